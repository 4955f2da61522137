# Shared by scripts/run and scripts/test: find Python 3.11+, make .venv, install.
# Sourced, not executed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

pick_python() {
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  echo "dmp-gateway needs Python 3.11 or newer on PATH" >&2
  return 1
}

# ensure_venv EXTRAS: create .venv once and (re)install when pyproject.toml changed.
ensure_venv() {
  local extras="$1" stamp=".venv/.installed-$1"
  # An install with the test extras also satisfies a plain one.
  if [ "$extras" = "base" ] && [ -f .venv/.installed-test ] && [ ! pyproject.toml -nt .venv/.installed-test ]; then
    return 0
  fi
  if [ ! -x .venv/bin/python ]; then
    "$(pick_python)" -m venv .venv
    .venv/bin/python -m pip install --quiet --upgrade pip setuptools wheel
  fi
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    local target="."
    if [ -n "$extras" ] && [ "$extras" != "base" ]; then target=".[$extras]"; fi
    local log=".venv/install.log"
    if ! .venv/bin/python -m pip install --quiet -e "$target" >"$log" 2>&1; then
      cat "$log" >&2
      echo "installation failed (log: $log)" >&2
      return 1
    fi
    touch "$stamp"
  fi
}
