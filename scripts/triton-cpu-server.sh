#!/usr/bin/env bash
# Creates or refreshes .venv-triton/, the venv of the CPU stand-in Triton (triton-model-repo/cpu-server/:
# nvidia-pytriton's tritonserver with ONNX Runtime in Python), from the pinned
# triton-model-repo/cpu-server/requirements.txt. Idempotent and quick when up to date: a stamp file holds
# the hash of the requirements and the Python version the venv was built from; anything else rebuilds it
# from scratch, so no package of an older pin set survives.
#
# The bundled tritonserver needs Linux with glibc ≥ 2.35, and its Python backend a shared libpython of the
# same interpreter. Without those (or without a usable Python 3 and no apt-get to install one) it warns
# and exits 0: the tests against the real server then report themselves as skipped, naming the reason.
# PYTHON picks the interpreter (default python3).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv-triton
REQUIREMENTS=triton-model-repo/cpu-server/requirements.txt
PYTHON="${PYTHON:-python3}"
STAMP="$VENV/.requirements.sha256"

warn() { printf 'triton-cpu-server: %s\n' "$*" >&2; }

# Several test runs may start at once: one builds, the others wait for it.
if command -v flock >/dev/null; then
  exec 9>"$VENV.lock"
  flock 9
fi

# Debian splits venv/ensurepip out of python3 (python3-venv): install it when missing and possible.
venv_works() {
  command -v "$PYTHON" >/dev/null && "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1
}
if ! venv_works && [ "$PYTHON" = python3 ] && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  warn 'python3 or its venv module is missing: installing python3-venv with apt-get'
  apt-get update -qq && apt-get install -y -qq python3 python3-venv >/dev/null
fi
if ! venv_works; then
  warn "no $PYTHON with venv and ensurepip: $VENV not created (the real-Triton tests will be skipped)"
  exit 0
fi

# What the bundled tritonserver needs of this machine and this interpreter; empty when all is there.
unusable="$("$PYTHON" - <<'EOF'
import os, platform, sys, sysconfig
libc, version = platform.libc_ver()
parts = tuple(int(p) for p in version.split('.')[:2] if p.isdigit())
libdir = sysconfig.get_config_var('LIBDIR') or ''
shared = [sysconfig.get_config_var(k) for k in ('INSTSONAME', 'LDLIBRARY')]
if platform.system() != 'Linux' or platform.machine() not in ('x86_64', 'aarch64'):
    print(f'tritonserver runs on Linux x86_64 or aarch64, not {platform.system()} {platform.machine()}')
elif libc != 'glibc' or parts < (2, 35):
    print(f'tritonserver needs glibc >= 2.35, this is {libc or "no glibc"} {version}')
elif not (3, 8) <= sys.version_info[:2] <= (3, 13):
    print(f'PyTriton supports Python 3.8 to 3.13, {sys.executable} is {platform.python_version()}')
elif not any(s and '.so' in s and os.path.exists(os.path.join(libdir, s)) for s in shared):
    print(f'{sys.executable} has no shared libpython in {libdir or "its LIBDIR"} (built without --enable-shared)')
EOF
)"
if [ -n "$unusable" ]; then
  warn "$unusable: $VENV not created (the real-Triton tests will be skipped)"
  exit 0
fi

wanted="$("$PYTHON" - "$REQUIREMENTS" <<'EOF'
import hashlib, sys
with open(sys.argv[1], 'rb') as f:
    digest = hashlib.sha256(f.read()).hexdigest()
print(f'{digest} python{sys.version_info[0]}.{sys.version_info[1]}')
EOF
)"
if [ -x "$VENV/bin/python" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$wanted" ]; then
  exit 0
fi

warn "building $VENV from $REQUIREMENTS (about 450 MB)"
rm -f "$STAMP"
"$PYTHON" -m venv --clear "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$REQUIREMENTS"
version="$("$VENV/bin/python" -c 'import importlib.metadata as m, onnxruntime, pytriton.triton
print("nvidia-pytriton", m.version("nvidia-pytriton"), "onnxruntime", onnxruntime.__version__)')"
# Written last: an interrupted build leaves no stamp and is rebuilt next time.
printf '%s\n' "$wanted" >"$STAMP"
warn "$VENV ready ($version)"
