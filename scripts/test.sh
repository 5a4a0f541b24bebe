#!/usr/bin/env bash
# The test command of README.md, and what CI runs: installs the test extras into .venv,
# then lint, types, import contracts, catalogues and the whole test suite (unit, handler, PostgreSQL, e2e).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
# The dashboard's browser tests drive Debian's chromium (through Playwright); without it they
# are skipped. Installed here when we can (root with apt-get); never a reason to fail.
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    { export DEBIAN_FRONTEND=noninteractive; apt-get install -y -qq chromium \
        || { apt-get update -qq && apt-get install -y -qq chromium; }; } \
        >/dev/null 2>&1 || echo "chromium could not be installed: the browser tests will be skipped" >&2
fi
.venv/bin/ruff check .
.venv/bin/mypy bot storage handlers
.venv/bin/lint-imports --no-cache  # the layer rule and no import circles (pyproject.toml)
.venv/bin/python scripts/update_catalogs.py --check
# Two workers (the machine has two cores), a test file each at a time: tests of one file
# share their module fixtures; TEST_WORKERS=0 runs everything in this one process.
exec .venv/bin/python -m pytest -n "${TEST_WORKERS:-2}" --dist loadfile "$@"
