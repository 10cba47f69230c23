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
PYTHON="${PYTHON:-python3}"
STAMP="$VENV/.requirements.sha256"

warn() { printf 'python-tools: %s\n' "$*" >&2; }

# Several test runs may start at once (each loads the fuzz test): one builds, the others wait for it.
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
  warn "no $PYTHON with venv and ensurepip: $VENV not created (the Schemathesis test will be skipped)"
  exit 0
fi

wanted="$("$PYTHON" - "$REQUIREMENTS" <<'EOF'
import hashlib, sys
with open(sys.argv[1], 'rb') as f:
    digest = hashlib.sha256(f.read()).hexdigest()
print(f'{digest} python{sys.version_info[0]}.{sys.version_info[1]}')
EOF
)"
if [ -x "$VENV/bin/schemathesis" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$wanted" ]; then
  exit 0
fi

warn "building $VENV from $REQUIREMENTS"
rm -f "$STAMP"
"$PYTHON" -m venv --clear "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$REQUIREMENTS"
"$VENV/bin/schemathesis" --version >/dev/null
# Written last: an interrupted build leaves no stamp and is rebuilt next time.
printf '%s\n' "$wanted" >"$STAMP"
warn "$VENV ready ($("$VENV/bin/schemathesis" --version))"
