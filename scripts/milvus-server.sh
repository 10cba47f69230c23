#!/usr/bin/env bash
# Creates or refreshes .venv-milvus/, the venv of a real Milvus for the store-milvus tests and benchmarks
# (the `milvus` package: Milvus 2.3 standalone with its etcd inside, run by tools/milvus/serve.py), from
# the pinned tools/milvus/requirements.txt. Idempotent and quick when up to date: a stamp file holds the
# hash of the requirements and the Python version the venv was built from; anything else rebuilds it from
# scratch, so no package of an older pin set survives.
#
# The package's Milvus binary is built for Linux x86_64 with glibc. Elsewhere, or without a usable Python 3
# (and no apt-get to install one), it warns and exits 0: the tests against the real server then report
# themselves as skipped, naming the reason. PYTHON picks the interpreter (default python3).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv-milvus
REQUIREMENTS=tools/milvus/requirements.txt
PYTHON="${PYTHON:-python3}"
STAMP="$VENV/.requirements.sha256"

warn() { printf 'milvus-server: %s\n' "$*" >&2; }

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
  warn "no $PYTHON with venv and ensurepip: $VENV not created (the real-Milvus tests will be skipped)"
  exit 0
fi

# What the packaged Milvus binary needs of this machine; empty when all is there.
unusable="$("$PYTHON" - <<'PY'
import platform
libc, version = platform.libc_ver()
if platform.system() != 'Linux' or platform.machine() != 'x86_64':
    print(f'the packaged Milvus runs on Linux x86_64, not {platform.system()} {platform.machine()}')
elif libc != 'glibc':
    print(f'the packaged Milvus needs glibc, this is {libc or "no glibc"}')
PY
)"
if [ -n "$unusable" ]; then
  warn "$unusable: $VENV not created (the real-Milvus tests will be skipped)"
  exit 0
fi

wanted="$("$PYTHON" - "$REQUIREMENTS" <<'PY'
import hashlib, sys
with open(sys.argv[1], 'rb') as f:
    digest = hashlib.sha256(f.read()).hexdigest()
print(f'{digest} python{sys.version_info[0]}.{sys.version_info[1]}')
PY
)"
if [ -x "$VENV/bin/python" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$wanted" ]; then
  exit 0
fi

warn "building $VENV from $REQUIREMENTS (about 80 MB, 250 MB more once the server has run)"
rm -f "$STAMP"
"$PYTHON" -m venv --clear "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$REQUIREMENTS"
version="$("$VENV/bin/python" -c 'import milvus; print("milvus", milvus.__version__)')"
# Written last: an interrupted build leaves no stamp and is rebuilt next time.
printf '%s\n' "$wanted" >"$STAMP"
warn "$VENV ready ($version)"
