#!/usr/bin/env bash
# The main job, end to end, on a zoo model: export -> convert for SQL Edge 2.0 -> validate (with parity)
# -> package T-SQL scripts -> dry-run PREDICT in DuckDB -> package a container -> serve it once and call it.
# Everything is written under demo-out/ (replaced on each run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh all
og=.venv/bin/onnxgate
out=demo-out
rm -rf "$out"
mkdir -p "$out"
set -x
$og zoo export sklearn-wine-columntransformer -o "$out/zoo"
$og convert "$out/zoo/model.skops" --sample "$out/zoo/sample.csv" --target sql-edge-2.0 -o "$out/model-sql.onnx"
$og validate "$out/model-sql.onnx" --target sql-edge-2.0 --reference "$out/zoo/model.skops" --data "$out/zoo/sample.csv" \
    --json "$out/report.json" --junit "$out/report.xml" --markdown "$out/report.md"
$og package "$out/model-sql.onnx" --target sql-edge-2.0 --reference "$out/zoo/model.skops" --data "$out/zoo/sample.csv" -o "$out/sql"
$og sql-dryrun "$out/sql" --data "$out/zoo/sample.csv" --reference "$out/zoo/model.skops"
$og convert "$out/zoo/model.skops" --sample "$out/zoo/sample.csv" --opset 17 -o "$out/model.onnx"
$og package "$out/model.onnx" --target container --reference "$out/zoo/model.skops" --data "$out/zoo/sample.csv" -o "$out/container"
set +x
.venv/bin/python scripts/call_service.py "$out/container" "$out/zoo/sample.csv"
echo "demo: done; outputs in $out/"
