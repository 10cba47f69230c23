# shellcheck shell=bash
# Sourced by the scripts that build a pinned Python venv (python-tools.sh, triton-cpu-server.sh,
# milvus-server.sh): one venv per tool, built from one requirements file, idempotent and quick when up to
# date. A stamp file holds the hash of the requirements and the Python version the venv was built from;
# anything else rebuilds it from scratch, so no package of an older pin set survives.
#
# The caller sets VENV, REQUIREMENTS, NAME (prefix of messages) and SKIPPED (what is skipped without the
# venv), then calls, in order: venv_lock, venv_python_or_exit, its own machine checks, venv_current_or_build,
# its own smoke check, venv_stamp. PYTHON picks the interpreter (default python3).

PYTHON="${PYTHON:-python3}"

warn() { printf '%s: %s\n' "$NAME" "$*" >&2; }

# Warns that the venv was not made, and why, and exits 0: the tests that need it report themselves skipped.
venv_skip() {
  warn "$1: $VENV not created ($SKIPPED will be skipped)"
  exit 0
}

# Several test runs may start at once: one builds, the others wait for it.
venv_lock() {
  if command -v flock >/dev/null; then
    exec 9>"$VENV.lock"
    flock 9
  fi
}

# A Python with venv and ensurepip, or exit 0. Debian splits those out of python3 (python3-venv): installed
# when missing and possible.
venv_python_or_exit() {
  venv_works() { command -v "$PYTHON" >/dev/null && "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; }
  if ! venv_works && [ "$PYTHON" = python3 ] && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    warn 'python3 or its venv module is missing: installing python3-venv with apt-get'
    apt-get update -qq && apt-get install -y -qq python3 python3-venv >/dev/null
  fi
  venv_works || venv_skip "no $PYTHON with venv and ensurepip"
}

# Exits 0 when the venv is current (its EXECUTABLE, default bin/python, exists and the stamp matches);
# otherwise rebuilds it from the requirements. The stamp is written by venv_stamp, after the caller's check.
venv_current_or_build() {
  local executable="${1:-bin/python}" size="${2:-}"
  VENV_WANTED="$("$PYTHON" - "$REQUIREMENTS" <<'PY'
import hashlib, sys
with open(sys.argv[1], 'rb') as f:
    digest = hashlib.sha256(f.read()).hexdigest()
print(f'{digest} python{sys.version_info[0]}.{sys.version_info[1]}')
PY
)"
  if [ -x "$VENV/$executable" ] && [ "$(cat "$VENV/.requirements.sha256" 2>/dev/null)" = "$VENV_WANTED" ]; then
    exit 0
  fi
  warn "building $VENV from $REQUIREMENTS${size:+ ($size)}"
  rm -f "$VENV/.requirements.sha256"
  "$PYTHON" -m venv --clear "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$REQUIREMENTS"
}

# Written last: an interrupted build leaves no stamp and is rebuilt next time.
venv_stamp() {
  printf '%s\n' "$VENV_WANTED" >"$VENV/.requirements.sha256"
  warn "$VENV ready ($1)"
}
