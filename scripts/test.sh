#!/usr/bin/env bash
# Set up .venv with the test extras and run the whole test suite (slow tests included).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
# The core environment: no framework, no pandas, no scikit-learn. import, --help and validating an
# .onnx file must work there.
if [ ! -x .venv-core/bin/python ]; then
  "${PYTHON:-python3}" -m venv .venv-core
fi
.venv-core/bin/python -m pip install -q -c constraints.txt -e . pytest
.venv-core/bin/python -m pytest -q -p no:cacheprovider -p no:onnxgate tests/test_core_env.py
# Lint and types are part of the suite.
.venv/bin/ruff check onnxgate tests bench scripts
.venv/bin/mypy onnxgate
# The documentation site: a broken link, a missing API reference or a bad page fails here
# (generated pages are checked by tests/docs/test_docs.py).
NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --quiet --site-dir "$(mktemp -d)"
# Headless Chromium opens the HTML report in tests/validators/test_report_browser.py.
bash scripts/setup-browser.sh
# The real Azure ML inference server lives in its own env: it pins its own fastapi/opentelemetry.
bash scripts/setup-azml.sh
exec .venv/bin/python -m pytest -n "${PYTEST_WORKERS:-2}" -q -p no:cacheprovider "$@"
