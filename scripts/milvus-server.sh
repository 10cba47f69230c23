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
NAME=milvus-server
SKIPPED='the real-Milvus tests'
# shellcheck source=lib/pinned-venv.sh
. scripts/lib/pinned-venv.sh

venv_lock
venv_python_or_exit

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
[ -z "$unusable" ] || venv_skip "$unusable"

venv_current_or_build bin/python "about 80 MB, 250 MB more once the server has run"
version="$("$VENV/bin/python" -c 'import milvus; print("milvus", milvus.__version__)')"
venv_stamp "$version"
