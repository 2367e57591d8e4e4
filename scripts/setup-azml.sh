#!/usr/bin/env bash
# Create .venv-azml: the real Azure ML inference server (azmlinfsrv) next to numpy + onnxruntime, used by
# tests/deploy/test_azml.py and bench/bench_serve.py to run a generated score.py unchanged.
# It lives apart from .venv because azureml-inference-server-http pins its own fastapi/opentelemetry/wrapt.
# Idempotent: re-installs only when this script or constraints.txt changed (stamp file).
set -euo pipefail
cd "$(dirname "$0")/.."
py="${PYTHON:-python3}"
venv=".venv-azml"
# pytest-xdist workers (and scripts/test.sh) may call this at once: one pip at a time.
exec 9>"${TMPDIR:-/tmp}/onnxgate-setup-azml.lock"
flock 9
stamp="$venv/.onnxgate-azml.stamp"
want="$(cat scripts/setup-azml.sh constraints.txt | sha256sum | cut -c1-16)"
if [ -x "$venv/bin/azmlinfsrv" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
if [ ! -x "$venv/bin/python" ]; then
  "$py" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip
fi
"$venv/bin/python" -m pip install -q -c constraints.txt \
  numpy onnxruntime "azureml-inference-server-http==1.5.1" "inference-schema==1.8"
# azmlinfsrv --help exits 1, so check the import instead.
"$venv/bin/python" -c "import azureml_inference_server_http.amlserver, onnxruntime, numpy"
echo "$want" > "$stamp"
