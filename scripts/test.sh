#!/usr/bin/env bash
# Set up .venv with the test extras and run the whole test suite (slow tests included).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
exec .venv/bin/python -m pytest -n "${PYTEST_WORKERS:-2}" -q -p no:cacheprovider "$@"
