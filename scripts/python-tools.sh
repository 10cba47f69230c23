#!/usr/bin/env bash
# Creates or refreshes the Python tools venv at .venv-tools/ (Schemathesis, for the API fuzz test) from the
# pinned tools/schemathesis/requirements.txt. Idempotent and quick when up to date: a stamp file holds the
# hash of the requirements and the Python version the venv was built from; anything else rebuilds it from
# scratch, so no package of an older pin set survives.
#
# Without a usable Python 3 (and no apt-get to install one) it warns and exits 0: the fuzz test then
# reports itself as skipped, naming the reason. PYTHON picks the interpreter (default python3).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv-tools
REQUIREMENTS=tools/schemathesis/requirements.txt
NAME=python-tools
SKIPPED='the Schemathesis test'
# shellcheck source=lib/pinned-venv.sh
. scripts/lib/pinned-venv.sh

venv_lock
venv_python_or_exit
venv_current_or_build bin/schemathesis
"$VENV/bin/schemathesis" --version >/dev/null
venv_stamp "$("$VENV/bin/schemathesis" --version)"
