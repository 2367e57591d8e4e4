"""The generated score.py under the real Azure ML inference server (azmlinfsrv), on 127.0.0.1.

azureml-inference-server-http pins its own fastapi/opentelemetry, so it lives in ``.venv-azml``
(``scripts/setup-azml.sh``, run here when missing). azmlinfsrv binds 0.0.0.0 and cannot be told
otherwise; these tests only ever connect to 127.0.0.1 and stop it by its process group.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _serving import REPO, Server, free_port, package_zoo

pytestmark = [pytest.mark.azml, pytest.mark.slow, pytest.mark.network]

AZML = REPO / ".venv-azml" / "bin" / "azmlinfsrv"
SETUP = REPO / "scripts" / "setup-azml.sh"
SETUP_TIMEOUT_S = 900


@pytest.fixture(scope="module")
def azmlinfsrv() -> Path:
    proc = subprocess.run(["bash", str(SETUP)], capture_output=True, text=True, timeout=SETUP_TIMEOUT_S)
    if proc.returncode != 0 or not AZML.exists():
        pytest.skip(f"could not create .venv-azml with scripts/setup-azml.sh (no package index?): "
                    f"{proc.stderr.strip()[-300:]}")
    return AZML


@pytest.fixture(scope="module")
def iris(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any, Any]:
    return package_zoo("sklearn-iris-logreg", tmp_path_factory.mktemp("azml") / "iris", max_rows=20)


@pytest.fixture(scope="module")
def server(azmlinfsrv: Path, iris: tuple[Path, Any, Any], tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("azml-home")  # gunicorn writes ~/.gunicorn/gunicorn.ctl
    folder = iris[0]
    port = free_port()
    srv = Server(
        [str(azmlinfsrv), "--entry_script", str(folder / "score.py"), "--port", str(port)], port,
        env={"HOME": str(home), "AZUREML_MODEL_DIR": str(folder), "AML_APP_ROOT": str(folder)},
        cwd=str(home),
    )
    try:
        yield srv.wait_healthy()
    finally:
        srv.stop()


def test_azmlinfsrv_scores_like_onnxruntime(server: Server, iris: tuple[Path, Any, Any]) -> None:
    import onnxruntime as ort

    folder, _native, X = iris
    status, body = server.score({"data": X[:15].tolist()})
    assert status == 200, body
    sess = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    label, proba = sess.run(None, {sess.get_inputs()[0].name: X[:15].astype(np.float64)})
    assert body["label"] == label.tolist()
    np.testing.assert_allclose(np.asarray(body["probabilities"], dtype=np.float32), proba, rtol=1e-6)


@pytest.mark.parametrize(("body", "status", "code"), [
    (b'{"data": [[1, 2, 3]]}', 400, "wrong_row_width"),
    (b'{"data": [[1, 2', 400, "malformed_json"),
    (b'{"data": {"nope": [[1, 2, 3, 4]]}}', 400, "unknown_input"),
    (json.dumps({"data": [[1, 2, 3, 4]] * 21}).encode(), 413, "too_many_rows"),
], ids=["row-width", "malformed-json", "unknown-input", "too-many-rows"])
def test_bad_requests_keep_their_4xx_under_azmlinfsrv(server: Server, body: bytes, status: int, code: str) -> None:
    got, raw = server.request("POST", "/score", body, {"Content-Type": "application/json"})
    payload = json.loads(raw)
    assert (got, payload["error"]) == (status, code)


def test_azmlinfsrv_serves_the_packaged_swagger(server: Server, iris: tuple[Path, Any, Any]) -> None:
    v2 = json.loads(server.get("/swagger.json")[1])
    assert v2 == json.loads((iris[0] / "swagger.json").read_text())
    v3 = json.loads(server.get("/swagger.json?version=3")[1])
    assert v3["openapi"] == "3.0.3"
    assert server.get("/")[0] == 200
