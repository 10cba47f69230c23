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
NAME=triton-cpu-server
SKIPPED='the real-Triton tests'
# shellcheck source=lib/pinned-venv.sh
. scripts/lib/pinned-venv.sh

venv_lock
venv_python_or_exit

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
[ -z "$unusable" ] || venv_skip "$unusable"

venv_current_or_build bin/python "about 450 MB"
version="$("$VENV/bin/python" -c 'import importlib.metadata as m, onnxruntime, pytriton.triton
print("nvidia-pytriton", m.version("nvidia-pytriton"), "onnxruntime", onnxruntime.__version__)')"
venv_stamp "$version"
