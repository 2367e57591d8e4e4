"""Property tests for the request parsers, in-process: any body gets a valid JSON answer, never a 5xx.

Both routes are driven directly (no HTTP): ``score.score_bytes`` behind ``POST /score`` and the Open
Inference Protocol handler behind ``POST /v2/models/{name}/infer``, on JSON that Hypothesis builds
around the shape of a valid request, and on raw bytes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from _serving import package_zoo
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from onnxgate.deploy.server import ScoringApp, create_app

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> ScoringApp:
    folder, _native, _X = package_zoo("sklearn-iris-logreg", tmp_path_factory.mktemp("parse") / "iris", max_rows=20,
                                  precision="float32")
    return create_app(folder)


def strict(raw: bytes) -> Any:
    def refuse(token: str) -> Any:
        raise AssertionError(f"{token} in a response: not JSON")

    return json.loads(raw, parse_constant=refuse)


scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=5))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=5), inner,
                                                                                             max_size=3), max_leaves=40)
cells = st.one_of(st.floats(allow_nan=False, allow_infinity=False, width=32), st.integers(-10, 10), st.booleans())
rows = st.lists(st.lists(cells, min_size=3, max_size=5), min_size=1, max_size=25)


@SETTINGS
@given(data=st.one_of(values, rows))
def test_score_route_answers_any_data_with_json_and_no_5xx(app: ScoringApp, data: Any) -> None:
    status, raw = app.entry.score_bytes(json.dumps({"data": data}).encode())
    body = strict(raw)
    assert status == 200 or 400 <= status < 500, body
    if status != 200:
        assert body["status"] == status and body["message"]


@SETTINGS
@given(raw=st.binary(max_size=200))
def test_score_route_answers_any_bytes_with_json_and_no_5xx(app: ScoringApp, raw: bytes) -> None:
    status, out = app.entry.score_bytes(raw)
    strict(out)
    assert status == 200 or 400 <= status < 500


tensors = st.fixed_dictionaries({
    "name": st.sampled_from(["input", "x", 3]),
    "datatype": st.sampled_from(["FP64", "FP32", "INT64", "BYTES", None]),
    "shape": st.one_of(st.lists(st.integers(-1, 6), max_size=3), values),
}, optional={"data": st.one_of(values, st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=24)),
             "parameters": st.one_of(values, st.fixed_dictionaries({"binary_data_size": st.integers(-4, 64)}))})
requests = st.fixed_dictionaries({"inputs": st.one_of(st.lists(tensors, max_size=3), values)},
                                 optional={"outputs": st.one_of(values, st.lists(st.fixed_dictionaries(
                                     {"name": st.sampled_from(["label", "probabilities", "nope"])}), max_size=3)),
                                           "id": st.text(max_size=4), "parameters": values})


@SETTINGS
@given(request=requests, tail=st.binary(max_size=64))
def test_v2_infer_answers_any_request_with_the_protocols_error_or_outputs(app: ScoringApp, request: Any,
                                                                          tail: bytes) -> None:
    header = json.dumps(request).encode()
    headers = {b"inference-header-content-length": str(len(header)).encode()} if tail else {}
    status, raw, _headers = app.v2.infer(headers, header + tail)
    if status == 200:
        size = int(dict(_headers).get(b"inference-header-content-length", len(raw)))
        assert strict(raw[:size])["model_name"] == "logisticregression"
    else:
        body = strict(raw)
        assert 400 <= status < 500 and list(body) == ["error"] and body["error"], body


def test_a_valid_v2_json_request_passes_the_same_parser(app: ScoringApp) -> None:
    request = {"inputs": [{"name": "input", "datatype": "FP64", "shape": [2, 4], "data": [1, 2, 3, 4, 5, 6, 7, 8]}]}
    status, raw, _headers = app.v2.infer({}, json.dumps(request).encode())
    body = strict(raw)
    assert status == 200 and [o["name"] for o in body["outputs"]] == ["label", "probabilities"]
    assert body["outputs"][1]["shape"] == [2, 3] and len(body["outputs"][1]["data"]) == 6


def test_the_package_folder_is_left_as_it_was(app: ScoringApp) -> None:
    # create_app reads the package; it must never write into it (a read-only image layer)
    folder = Path(app.entry.__file__).parent
    before = sorted((p.name, p.stat().st_size) for p in folder.iterdir())
    app.entry.score_bytes(b'{"data": [[1, 2, 3, 4]]}')
    assert sorted((p.name, p.stat().st_size) for p in folder.iterdir()) == before


def test_v2_answers_with_the_standard_library_when_orjson_is_missing(app: ScoringApp,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import onnxgate.deploy.server as server

    monkeypatch.setattr(server, "_orjson", None)
    request = {"inputs": [{"name": "input", "datatype": "FP64", "shape": [1, 4], "data": [1e308, 2, 3, 4]}],
               "outputs": [{"name": "probabilities"}]}
    status, raw, _headers = app.v2.infer({}, json.dumps(request).encode())
    assert status == 200
    assert strict(raw)["outputs"][0]["data"] == [None, None, None]  # NaN written as null, still JSON
    status, raw, _headers = app.v2.infer({}, b"[" * 5000)
    assert status == 400 and "nests too deep" in strict(raw)["error"]


numbers = st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(-(2**53), 2**53))
numeric_rows = st.lists(st.one_of(st.lists(st.one_of(numbers, st.lists(numbers, max_size=2)), min_size=3, max_size=5),
                                  numbers), min_size=1, max_size=25)


@SETTINGS
@given(data=numeric_rows, spaced=st.booleans())
def test_a_body_of_numbers_gets_the_answer_the_general_parser_gives(app: ScoringApp, data: Any, spaced: bool) -> None:
    # {"data": <numbers and lists>} takes the one-pass array builder; the same rows with one more key
    # take the general parser. Both must answer alike: same status, same outputs or same error.
    body = json.dumps({"data": data}, separators=None if spaced else (",", ":")).encode()
    assert app.entry._numbers_only(body)
    general = json.dumps({"data": data, "_": 0}).encode()
    assert not app.entry._numbers_only(general)
    fast_status, fast = app.entry.score_bytes(body)
    slow_status, slow = app.entry.score_bytes(general)
    assert (fast_status, strict(fast)) == (slow_status, strict(slow))


@pytest.mark.parametrize("body", [b'{"data": [[1, 2, 3, true]]}', b'{"data": [[1, 2, 3, null]]}',
                                  b'{"data": [[1, 2, 3, "4"]]}', b'{"data": [[1, 2, 3, NaN]]}',
                                  b'{"data": [[1, 2, 3, 4]], "x": 1}', '{"data": [[1, 2, 3, 4é]]}'.encode()])
def test_bodies_with_anything_but_numbers_take_the_general_parser(app: ScoringApp, body: bytes) -> None:
    assert not app.entry._numbers_only(body)
    assert not app.entry._numbers_only(body.decode())
