"""Property tests for the request parsers, in-process: any body gets a valid JSON answer, never a 5xx.

Both routes are driven directly (no HTTP): ``score.score_bytes`` behind ``POST /score`` and the Open
Inference Protocol handler behind ``POST /v2/models/{name}/infer``, on JSON that Hypothesis builds
around the shape of a valid request, and on raw bytes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _serving import package_zoo
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import onnxgate as og
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
    assert status == 400 and "nests deeper than 1024 levels" in strict(raw)["error"]


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


# -- rows of numbers parsed by simdjson straight into the feed -------------------------------------

#: numbers as JSON writes them, and literals json.dumps does not write (out of range, signed zero, exponents)
literals = st.sampled_from(["1e400", "-1e400", "1E-400", "-0", "-0.0", "0e0", "1.5E+3", "12345678901234567890"])
wide_numbers = st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(-(2**70), 2**70), literals)


def _body(rows: list[list[Any]], spaced: bool) -> bytes:
    sep = ", " if spaced else ","
    cells = [sep.join(v if isinstance(v, str) else json.dumps(v) for v in r) for r in rows]
    text = "[" + sep.join("[" + c + "]" for c in cells) + "]"
    return ('{"data":' + (" " if spaced else "") + text + "}").encode()


@pytest.fixture(scope="module")
def app64(tmp_path_factory: pytest.TempPathFactory) -> ScoringApp:
    folder, _native, _X = package_zoo("sklearn-iris-logreg", tmp_path_factory.mktemp("parse64") / "iris", max_rows=20,
                                      precision="float64")
    return create_app(folder)


@pytest.fixture(scope="module")
def app32(tmp_path_factory: pytest.TempPathFactory) -> ScoringApp:
    # fitted and converted on float32 rows: the model's input is float32, so each double parsed from the
    # body is rounded to float32 (a float64 sample keeps a float64 input even at precision float32)
    import numpy as np

    import onnxgate as og

    native, X, _y = og.zoo.get("sklearn-iris-logreg").build()
    folder = tmp_path_factory.mktemp("parse32") / "iris"
    og.package(og.convert(native, np.asarray(X[:40], dtype=np.float32)), target="container", out=folder, max_rows=20)
    app = create_app(folder)
    assert app.entry._config()["signature"]["inputs"][0]["elem_type"] == "float32"
    return app


@SETTINGS
@given(rows=st.lists(st.lists(wide_numbers, min_size=4, max_size=4), min_size=1, max_size=20), spaced=st.booleans())
def test_rows_of_numbers_take_the_simdjson_path_and_feed_what_the_general_parser_feeds(
        app32: ScoringApp, app64: ScoringApp, rows: list[list[Any]], spaced: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every body here has the skeleton of rows of the model's width, so the fast path decides it (or,
    # for a number simdjson cannot hold, hands it on); with simdjson hidden the same body goes through
    # orjson and the per-value builder. Float32 and float64 models: the same feed, bit for bit.
    body = _body(rows, spaced)
    for entry in (app32.entry, app64.entry):
        try:
            fast: Any = entry._fast_rows(body)
        except entry.RequestError as err:  # e.g. a double beyond float32's range: non_finite
            fast = err.code
        with monkeypatch.context() as patch:
            patch.setattr(entry, "_simdjson", None)
            assert entry._fast_rows(body) is None
            try:
                general: Any = entry.feeds_for(body)
            except entry.RequestError as err:
                general = err.code
        if fast is None:  # simdjson refused a number: the answer is the general path's, unchanged
            huge = any(isinstance(v, (int, str)) and abs(float(v)) >= 2**63 for r in rows for v in r)
            # a float32 input hands a number past 2**53 on: a double would round an integer twice
            past_doubles = entry is app32.entry and any(abs(float(v)) >= 2**53 for r in rows for v in r)
            assert huge or past_doubles, body
            continue
        if isinstance(fast, str) or isinstance(general, str):
            assert fast == general, body
            continue
        (name,) = general
        assert fast[name].dtype == general[name].dtype and fast[name].shape == general[name].shape
        assert fast[name].tobytes() == general[name].tobytes(), body


def test_an_integer_past_2_53_reaches_a_float32_input_rounded_once(app32: ScoringApp) -> None:
    # the rows fast path parsed it to a double and rounded that to float32: another float32 than the
    # by-name layout, v2, or onnxruntime casting the int64 gave
    import numpy as np

    x = 2**60 + 2**36 + 1
    want = np.array([x], dtype=np.int64).astype(np.float32)[0]
    assert want != np.float32(float(x))  # the case where rounding twice differs
    for body in (json.dumps({"data": [[x, 1, 2, 3]]}), {"data": [[x, 1, 2, 3]]}):
        (feed,) = app32.entry.feeds_for(body).values()
        assert feed[0, 0] == want, body


def test_the_fast_path_refuses_what_the_general_path_refuses(app: ScoringApp, monkeypatch: pytest.MonkeyPatch) -> None:
    entry = app.entry
    too_many = b'{"data":[' + b",".join([b"[1,2,3,4]"] * 21) + b"]}"
    too_many_and_broken = too_many[:-3] + b"e]]}"  # [1,2,3,4e]: the JSON is refused before the row count
    for body, code in ((b'{"data":[[1,2,3],[4,5,6,7]]}', "wrong_shape"), (b'{"data":[[1,2,3]]}', "wrong_row_width"),
                       (b'{"data":[[[1]],2,3,4]}', "wrong_shape"), (b'{"data":[[1,2,3,4],5]}', "wrong_shape"),
                       (b'{"data":[[1,2,,3]]}', "malformed_json"),
                       (b'{"data":[[1,2,3,4]]]}', "malformed_json"), (too_many, "too_many_rows"),
                       # digits are deleted from the skeleton, so these match it: simdjson or the key decides
                       (b'{"data":[[1,2,3,4]]}5', "malformed_json"), (b'5{"data":[[1,2,3,4]]}', "malformed_json"),
                       (b'{"da1ta":[[1,2,3,4]]}', "missing_data"), (b'{"data":[[1,2,3,4 5]]}', "malformed_json"),
                       (b'{"data":[[1,2,3,01]]}', "malformed_json"), (b'{"data":[[1,2,3,1.]]}', "malformed_json"),
                       (too_many_and_broken, "malformed_json"), (b'{"da1ta":' + too_many[8:], "missing_data")):
        status, raw = entry.score_bytes(body)
        assert 400 <= status < 500 and strict(raw)["error"] == code, (body, raw)
        with monkeypatch.context() as patch:
            patch.setattr(entry, "_simdjson", None)
            assert entry.score_bytes(body) == (status, raw)


def test_the_fast_path_is_safe_across_threads(app64: ScoringApp) -> None:
    # one simdjson parser per thread: bodies scored at once from 4 threads each get their own rows back
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np

    entry = app64.entry
    rng = np.random.default_rng(0)
    batches = [rng.normal(size=(int(rng.integers(1, 20)), 4)) for _ in range(200)]

    def fed(X: Any) -> bool:
        feeds = entry._fast_rows(json.dumps({"data": X.tolist()}, separators=(",", ":")).encode())
        return feeds is not None and np.array_equal(feeds["input"], X)

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(fed, batches))


def test_a_large_body_gets_a_parser_of_its_own(app64: ScoringApp, monkeypatch: pytest.MonkeyPatch) -> None:
    # a simdjson parser keeps the buffers of the largest body it parsed: only small bodies reuse the
    # thread's parser, so a large one leaves no memory behind in it
    import threading

    import numpy as np

    entry = app64.entry
    X = np.arange(12, dtype=np.float64).reshape(3, 4) / 7
    body = json.dumps({"data": X.tolist()}).encode()
    monkeypatch.setattr(entry, "_parsers", threading.local())
    monkeypatch.setattr(entry, "_KEEP_PARSER_BYTES", len(body) - 1)
    assert np.array_equal(entry._fast_rows(body)["input"], X)
    assert getattr(entry._parsers, "parser", None) is None
    monkeypatch.setattr(entry, "_KEEP_PARSER_BYTES", len(body))
    assert np.array_equal(entry._fast_rows(body)["input"], X)
    assert entry._parsers.parser is not None


def test_a_body_of_brackets_costs_the_fast_path_no_more_than_its_own_size(app: ScoringApp) -> None:
    # the precheck refuses it before the expected skeleton (6 bytes per "[" for 4 values a row) is built
    import tracemalloc

    body = b'{"data":' + b"[" * 1_000_000
    tracemalloc.start()
    try:
        with pytest.raises(app.entry.RequestError, match="nests deeper than 1024 levels"):
            app.entry._fast_rows(body)
        _size, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2.5 * len(body), peak
    status, raw = app.entry.score_bytes(body)
    assert status == 400 and strict(raw)["error"] == "too_deep"


# -- v2 requests the server must refuse with a 400 naming the problem ------------------------------

@pytest.fixture(scope="module")
def ids_app(tmp_path_factory: pytest.TempPathFactory) -> ScoringApp:
    """A hand-made model with an INT64 input: each id picks one of 3 values (Gather), so id 3 is past the end."""
    from onnx import TensorProto as T
    from onnx import helper as h

    import onnxgate as og

    graph = h.make_graph([h.make_node("Gather", ["table", "ids"], ["value"])], "ids",
                         [h.make_tensor_value_info("ids", T.INT64, ["N", 1])],
                         [h.make_tensor_value_info("value", T.FLOAT, ["N", 1])],
                         initializer=[h.make_tensor("table", T.FLOAT, [3], [0.5, 1.5, 2.5])])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 15)])
    model.ir_version = 8
    folder = tmp_path_factory.mktemp("ids") / "ids"
    og.package(model, target="container", out=folder, service_name="ids")
    return create_app(folder)


def _iris(**extra: Any) -> dict[str, Any]:
    return {"name": "input", "datatype": "FP64", "shape": [1, 4], **extra}


def _ids(data: Any, shape: list[int] | None = None) -> dict[str, Any]:
    return {"inputs": [{"name": "ids", "datatype": "INT64", "shape": shape or [len(data), 1], "data": data}]}


ROW = [1, 2, 3, 4]
V2_REFUSED = [
    # id, app fixture, request (a dict to send as JSON, or raw bytes), binary data after it (None: no
    # Inference-Header-Content-Length), message fragment
    ("index-past-the-table", "ids_app", _ids([[1], [3]]), None, "indices element out of data bounds"),
    ("int64-2^63", "ids_app", _ids([2**63]), None, "input 'ids': a value is out of the int64 range"),
    ("int64-2^64", "ids_app", _ids([2**64]), None, "input 'ids': a value is out of the int64 range"),
    ("int64-2^63-and-negative", "ids_app", _ids([2**63, -1]), None, "a value is out of the int64 range"),
    ("int64-below-min", "ids_app", _ids([-(2**63) - 1, 1]), None, "a value is out of the int64 range"),
    ("int64-fraction", "ids_app", _ids([2**64, 1.5]), None, "expected int64 values, found numbers with a fraction"),
    ("output-twice", "app", {"inputs": [_iris(data=ROW)], "outputs": [{"name": "label"}, {"name": "label"}]}, None,
     "output 'label' is asked for twice"),
    ("binary-data-not-bool", "app",
     {"inputs": [_iris(data=ROW)], "outputs": [{"name": "label", "parameters": {"binary_data": "yes"}}]}, None,
     "output 'label': parameters.binary_data must be true or false, found 'yes'"),
    ("binary-data-output-not-bool", "app", {"inputs": [_iris(data=ROW)], "parameters": {"binary_data_output": 1}},
     None, "the request: parameters.binary_data_output must be true or false, found 1"),
    ("request-parameters-a-list", "app", {"inputs": [_iris(data=ROW)], "parameters": [1]}, None,
     "the request: 'parameters' must be an object of settings by name, found a list"),
    ("input-parameters-a-list", "app", {"inputs": [_iris(data=ROW, parameters=[1])]}, None,
     "input 'input': 'parameters' must be an object of settings by name, found a list"),
    ("output-parameters-a-string", "app", {"inputs": [_iris(data=ROW)], "outputs": [{"name": "label",
                                                                                      "parameters": "x"}]}, None,
     "output 'label': 'parameters' must be an object of settings by name, found a str"),
    ("data-and-binary", "app", {"inputs": [_iris(data=ROW, parameters={"binary_data_size": 32})]}, bytes(32),
     "input 'input' has both 'data' and parameters.binary_data_size"),
    ("input-without-name", "app", {"inputs": [{}]}, None, "an input has no 'name'; give each input one of the "
     "model's input names ['input']"),
    ("output-without-name", "app", {"inputs": [_iris(data=ROW)], "outputs": [{}]}, None, "an output has no 'name'"),
    ("body-not-json", "app", b'{"inputs": [', None, "the request body is not valid JSON"),
    # the NaN literal (tritonclient's JSON mode writes it) and 1e400 are read as /score reads them: the
    # model's NaN rule answers them
    ("body-nan", "app", b'{"inputs": [' + json.dumps(_iris()).encode()[:-1] + b', "data": [NaN, 2, 3, 4]}]}', None,
     "input 'input': NaN or infinity in row 0; this model was packaged to reject missing values"),
    ("body-1e400", "app", b'{"inputs": [' + json.dumps(_iris()).encode()[:-1] + b', "data": [1e400, 2, 3, 4]}]}',
     None, "input 'input': NaN or infinity in row 0"),
    ("header-nan", "app", json.dumps({"inputs": [_iris(data=[float("nan"), 2, 3, 4])]}).encode(), b"",
     "input 'input': NaN or infinity in row 0"),
    ("body-not-utf8", "app", b'{"inputs": [' + json.dumps(_iris()).encode()[:-1] + b', "data": [1, 2, 3, 4]}]}\xff',
     None, "the request body is not valid JSON"),
    ("header-not-json", "app", b'{"inputs": [', b"", "the inference request header is not valid JSON"),
]


@pytest.mark.parametrize(("fixture", "request_", "tail", "match"), [c[1:] for c in V2_REFUSED],
                         ids=[c[0] for c in V2_REFUSED])
def test_v2_refuses_a_bad_request_with_a_400_naming_the_problem(request: pytest.FixtureRequest, fixture: str,
                                                                 request_: Any, tail: bytes | None, match: str) -> None:
    target: ScoringApp = request.getfixturevalue(fixture)
    header = request_ if isinstance(request_, bytes) else json.dumps(request_).encode()
    headers = {} if tail is None else {b"inference-header-content-length": str(len(header)).encode()}
    status, raw, _headers = target.v2.infer(headers, header + (tail or b""))
    body = strict(raw)
    assert status == 400 and list(body) == ["error"], body
    assert match in body["error"], body["error"]


NO_ROWS = [
    # id, app fixture, request, binary data after it (None: none), the outputs' shapes and datatypes
    ("json", "app64", {"inputs": [_iris(shape=[0, 4], data=[])]}, None,
     {"label": ([0], "INT64"), "probabilities": ([0, 3], "FP64")}),
    ("binary", "app64", {"inputs": [_iris(shape=[0, 4], parameters={"binary_data_size": 0})]}, b"",
     {"label": ([0], "INT64"), "probabilities": ([0, 3], "FP64")}),
    ("float32-model", "app", {"inputs": [_iris(shape=[0, 4], data=[])]}, None,
     {"label": ([0], "INT64"), "probabilities": ([0, 3], "FP32")}),
    ("int64-gather", "ids_app", _ids([], [0, 1]), None, {"value": ([0, 1], "FP32")}),
]


@pytest.mark.parametrize(("fixture", "request_", "tail", "want"), [c[1:] for c in NO_ROWS], ids=[c[0] for c in NO_ROWS])
def test_a_batch_of_no_rows_gets_outputs_of_no_rows(request: pytest.FixtureRequest, fixture: str, request_: Any,
                                                    tail: bytes | None, want: dict[str, Any]) -> None:
    """Triton and KServe answer an empty batch; onnxruntime refuses some operators on 0 rows (ArrayFeatureExtractor),
    so the outputs are built from the signature: every output of a container package has a row per input row."""
    target: ScoringApp = request.getfixturevalue(fixture)
    header = json.dumps(request_).encode()
    headers = {} if tail is None else {b"inference-header-content-length": str(len(header)).encode()}
    status, raw, _headers = target.v2.infer(headers, header + (tail or b""))
    body = strict(raw)
    assert status == 200, body
    assert {o["name"]: (o["shape"], o["datatype"]) for o in body["outputs"]} == want
    assert all(o["data"] == [] for o in body["outputs"])
    status, raw = target.entry.score_bytes(b'{"data": []}' if fixture != "ids_app" else b'{"data": {"ids": []}}')
    assert (status, strict(raw)) == (200, {name: [] for name in want})


def test_no_rows_for_an_input_whose_width_only_a_row_tells_is_still_refused(tmp_path: Path) -> None:
    from onnx import TensorProto as T
    from onnx import helper as h

    import onnxgate as og

    graph = h.make_graph([h.make_node("ReduceSum", ["x"], ["total"], keepdims=1, axes=[1])], "sums",
                         [h.make_tensor_value_info("x", T.FLOAT, ["N", "K"])],
                         [h.make_tensor_value_info("total", T.FLOAT, ["N", 1])])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 12)])
    model.ir_version = 7
    target = create_app(og.package(model, target="container", out=tmp_path / "sums", service_name="sums"))
    status, raw = target.entry.score_bytes(b'{"data": []}')
    assert status == 400 and strict(raw)["error"] == "empty_data"
    assert "shape [N, K] has a size only a row tells" in strict(raw)["message"]
    header = json.dumps({"inputs": [{"name": "x", "datatype": "FP32", "shape": [0, 2], "data": []}]}).encode()
    status, raw, _headers = target.v2.infer({}, header)
    assert status == 400 and "input 'x' has no rows (shape [0, 2])" in strict(raw)["error"]
    status, raw = target.entry.score_bytes(b'{"data": [[1, 2, 3]]}')  # rows it can score
    assert (status, strict(raw)) == (200, {"total": [[6.0]]})


def test_v2_json_nan_reaches_a_model_packaged_to_take_it(app: ScoringApp, tmp_path: Path) -> None:
    # before: tritonclient's JSON mode (binary_data=False) could not send a NaN: "not valid JSON"
    import onnxgate as og

    folder = og.package(str(Path(app.entry.__file__).parent / "model.onnx"), target="container",
                        out=tmp_path / "nan", allow_nan=True, service_name="nan")
    body = json.dumps({"inputs": [_iris(data=[1.0, float("nan"), 3.0, 4.0])],
                       "outputs": [{"name": "probabilities"}]}).encode()
    assert b"NaN" in body
    status, raw, _headers = create_app(folder).v2.infer({}, body)
    assert status == 200, raw
    assert strict(raw)["outputs"][0]["data"] == [None, None, None]  # NaN in, NaN out, written as null
    status, raw, _headers = app.v2.infer({}, body)
    assert status == 400 and "NaN or infinity in row 0" in strict(raw)["error"]


@pytest.fixture(scope="module")
def text_app(tmp_path_factory: pytest.TempPathFactory) -> ScoringApp:
    """A hand-made model that returns its one string column."""
    from onnx import TensorProto as T
    from onnx import helper as h

    import onnxgate as og

    graph = h.make_graph([h.make_node("Identity", ["s"], ["s_out"])], "text",
                         [h.make_tensor_value_info("s", T.STRING, ["N", 1])],
                         [h.make_tensor_value_info("s_out", T.STRING, ["N", 1])])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 15)])
    model.ir_version = 8
    folder = tmp_path_factory.mktemp("text") / "text"
    og.package(model, target="container", out=folder, service_name="text")
    return create_app(folder)


def test_a_lone_surrogate_escape_is_refused_as_invalid_json_on_both_routes(text_app: ScoringApp) -> None:
    # the standard library (the fallback that reads NaN) reads "\ud800" into a string nothing can encode:
    # before, /score answered it with a 500 from onnxruntime
    status, body = _score(text_app, b'{"data": {"s": [["\\ud800"]]}}')
    assert (status, body["error"]) == (400, "malformed_json"), body
    assert "half a UTF-16 surrogate pair" in body["message"]
    v2 = b'{"inputs": [{"name": "s", "datatype": "BYTES", "shape": [1, 1], "data": ["\\ud800"]}]}'
    status, raw, _headers = text_app.v2.infer({}, v2)
    assert status == 400 and "half a UTF-16 surrogate pair" in strict(raw)["error"]
    # a whole pair is a character, on both routes
    status, body = _score(text_app, b'{"data": {"s": [["\\ud83d\\ude00"]]}}')
    assert (status, body) == (200, {"s_out": [["\U0001f600"]]})
    status, raw, _headers = text_app.v2.infer({}, v2.replace(b"\\ud800", b"\\ud83d\\ude00"))
    assert status == 200 and strict(raw)["outputs"][0]["data"] == ["\U0001f600"]


def test_v2_onnxruntime_failing_on_its_own_is_still_a_500(ids_app: ScoringApp, monkeypatch: pytest.MonkeyPatch) -> None:
    # INVALID_ARGUMENT is the request's values (a 400 above); any other onnxruntime status is no fault
    # of the request and must not be reported as one
    from onnxruntime.capi.onnxruntime_pybind11_state import Fail, RuntimeException

    for err in (Fail("kernel bug"), RuntimeException("provider crashed"), MemoryError()):
        def fail(*_args: Any, err: BaseException = err) -> Any:
            raise err

        monkeypatch.setattr(ids_app.entry, "infer", fail)
        status, raw, _headers = ids_app.v2.infer({}, json.dumps(_ids([[1]])).encode())
        assert status == 500 and strict(raw)["error"].startswith("onnxruntime failed"), raw


def test_score_route_answers_a_value_the_model_refuses_with_a_400(ids_app: ScoringApp,
                                                                   capfd: pytest.CaptureFixture[str]) -> None:
    """The Azure ML route agrees with v2: an id past the model's table is the request's to change."""
    status, raw = ids_app.entry.score_bytes(json.dumps({"data": [[1], [3]]}).encode())
    body = strict(raw)
    assert status == 400 and body["error"] == "invalid_values", body
    assert "indices element out of data bounds" in body["message"]
    status, raw, _headers = ids_app.v2.infer({}, json.dumps(_ids([[1], [3]])).encode())
    assert status == 400 and "out of data bounds" in strict(raw)["error"]
    # a client's bad value is the client's answer, not a line in the service's log: onnxruntime wrote
    # "[E:onnxruntime:, sequential_executor.cc ...]" to stderr for each such request
    assert capfd.readouterr().err == ""
    status, raw = ids_app.entry.score_bytes(json.dumps({"data": [[1], [2]]}).encode())
    assert status == 200, strict(raw)


def test_a_run_failing_through_the_models_fault_is_one_line_in_the_log(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """A model that reshapes its rows in pairs fails on an odd count with onnxruntime's FAIL: a 500 on both
    routes, and one line on stderr for whoever runs the service (not onnxruntime's own log line)."""
    from onnx import TensorProto as T
    from onnx import helper as h

    import onnxgate as og

    graph = h.make_graph([h.make_node("Reshape", ["x", "shape"], ["y"])], "fixed",
                         [h.make_tensor_value_info("x", T.FLOAT, ["N", 1])],
                         [h.make_tensor_value_info("y", T.FLOAT, ["M", 2])],
                         initializer=[h.make_tensor("shape", T.INT64, [2], [-1, 2])])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 15)])
    model.ir_version = 8
    og.package(model, target="container", out=tmp_path / "fixed", service_name="fixed")
    app = create_app(tmp_path / "fixed")
    capfd.readouterr()
    status, raw = app.entry.score_bytes(b'{"data": [[1], [2], [3]]}')
    assert status == 500 and strict(raw)["error"] == "inference_failed"
    v2 = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [3, 1], "data": [1, 2, 3]}]}
    status, raw, _headers = app.v2.infer({}, json.dumps(v2).encode())
    assert status == 500 and strict(raw)["error"].startswith("onnxruntime failed")
    lines = capfd.readouterr().err.splitlines()
    assert len(lines) == 2 and all(line.startswith("score.py: onnxruntime failed: Fail: ") for line in lines), lines
    status, raw = app.entry.score_bytes(b'{"data": [[1], [2], [3], [4]]}')
    assert status == 200 and capfd.readouterr().err == ""


# -- whole numbers written as 3.0 or 1e0 for an integer input ----------------------------------------
# JSON has one number type: JavaScript and many serializers write 3 as 3.0. An integer input takes a
# whole number however it is written, as that integer, on both routes; 1.5 stays refused, and a whole
# number beyond the input's type is called out of range, not a fraction.

def _score(target: ScoringApp, body: Any) -> tuple[int, Any]:
    status, raw = target.entry.score_bytes(body if isinstance(body, bytes) else json.dumps(body).encode())
    return status, strict(raw)


@pytest.mark.parametrize("body", [b'{"data": [[1.0], [2.0], [0.0]]}', b'{"data": [[1e0], [2.0E0], [-0.0]]}',
                                  b'{"data": [[1], [2.0], [0]]}', b'{"data": {"ids": [1.0, 2, 0.0]}}',
                                  b'{"data": [{"ids": 1.0}, {"ids": 2}, {"ids": 0.0}]}'],
                         ids=["floats", "exponents", "mixed", "by-name", "records"])
def test_score_route_takes_whole_numbers_with_a_fraction_as_integers(ids_app: ScoringApp, body: bytes) -> None:
    status, want = _score(ids_app, b'{"data": [[1], [2], [0]]}')
    assert status == 200 and want == {"value": [[1.5], [2.5], [0.5]]}
    assert _score(ids_app, body) == (200, want)


def test_v2_json_takes_whole_numbers_with_a_fraction_as_integers(ids_app: ScoringApp) -> None:
    def infer(data: list[Any]) -> tuple[int, Any]:
        status, raw, _headers = ids_app.v2.infer({}, json.dumps(_ids(data)).encode())
        return status, strict(raw)

    status, want = infer([[1], [2], [0]])
    assert status == 200 and want["outputs"][0]["data"] == [1.5, 2.5, 0.5]
    assert infer([[1.0], [2.0], [0.0]]) == (200, want)
    assert infer([1.0, 2, 0.0]) == (200, want)


def test_an_integer_beside_a_float_is_fed_exactly(ids_app: ScoringApp) -> None:
    # numpy makes [1.0, 2**63 - 1] a float array, rounding 2**63 - 1 to 2**63: the integers are read from
    # the JSON again, so an int64 id past 2**53 reaches the model as the client wrote it
    import numpy as np

    entry = ids_app.entry
    for big in (2**63 - 1, -(2**63), 2**53 + 1, -(2**53) - 1):
        feeds = entry.feeds_for(json.dumps({"data": [[1.0], [big]]}).encode())
        assert feeds["ids"].dtype == np.int64 and feeds["ids"].ravel().tolist() == [1, big]
        feeds = entry.feeds_for({"data": [[1.0], [big]]})  # an already-parsed request, as run() may get
        assert feeds["ids"].ravel().tolist() == [1, big]
    # past the table, so the model refuses it: the value got through the range check
    for route in ("score", "v2"):
        if route == "score":
            status, body = _score(ids_app, {"data": [[1.0], [2**63 - 1]]})
            message = body["message"]
        else:
            status, raw, _headers = ids_app.v2.infer({}, json.dumps(_ids([1.0, 2**63 - 1])).encode())
            message = strict(raw)["error"]
        assert status == 400 and "indices element out of data bounds" in message, message


SCORE_REFUSED = [
    # id, request, message fragment
    ("fraction", b'{"data": [[1.5]]}', "input 'ids': expected int64 values, found numbers with a fraction"),
    ("fraction-beside-whole", b'{"data": [[1.0], [2.5]]}', "expected int64 values, found numbers with a fraction"),
    ("fraction-by-name", b'{"data": {"ids": [1, 0.25]}}', "expected int64 values, found numbers with a fraction"),
    ("1e30", b'{"data": [[1e30]]}', "input 'ids': a value is out of the int64 range"),
    ("-1e30", b'{"data": [[1], [-1e30]]}', "input 'ids': a value is out of the int64 range"),
    ("2^63", b'{"data": [[9223372036854775808]]}', "input 'ids': a value is out of the int64 range"),
    ("2^63-as-float", b'{"data": [[9223372036854775808.0]]}', "input 'ids': a value is out of the int64 range"),
    ("2^63-beside-float", b'{"data": [[1.0], [9223372036854775808]]}', "a value is out of the int64 range"),
    ("2^64", b'{"data": [[18446744073709551616]]}', "input 'ids': a value is out of the int64 range"),
    ("2^70-beside-negative", b'{"data": [[-1], [1180591620717411303424]]}', "a value is out of the int64 range"),
    ("below-min-beside-float", b'{"data": [[1.0], [-9223372036854775809]]}', "a value is out of the int64 range"),
    ("fraction-before-range", b'{"data": [[1e30], [1.5]]}', "expected int64 values, found numbers with a fraction"),
    # past 2**53 a double does not hold every integer: 9007199254740993.0 read as ...992 (helper-103)
    ("2^53+1-as-float", b'{"data": [[9007199254740993.0]]}', "write int64 values past 2**53 as integers"),
    ("2^53+1-exponent", b'{"data": [[1], [9007199254740993e0]]}', "write int64 values past 2**53 as integers"),
    ("2^60-as-float-beside-int", b'{"data": [[1.0], [-1152921504606846976.0]]}', "past 2**53 as integers"),
]


@pytest.mark.parametrize("orjson", [True, False], ids=["orjson", "stdlib"])
@pytest.mark.parametrize(("body", "match"), [c[1:] for c in SCORE_REFUSED], ids=[c[0] for c in SCORE_REFUSED])
def test_score_route_refuses_a_fraction_or_a_value_out_of_range_for_an_integer_input(
        ids_app: ScoringApp, body: bytes, match: str, orjson: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if not orjson:
        monkeypatch.setattr(ids_app.entry, "_orjson", None)
    status, answer = _score(ids_app, body)
    assert status == 400 and answer["error"] == "wrong_element_type", answer
    assert match in answer["message"], answer["message"]
    # an already-parsed request (run() under a server that parsed it) gets the same answer
    status, answer = ids_app.entry.score(json.loads(body))
    assert status == 400 and match in answer["message"], answer


V2_INTEGERS_REFUSED = [
    ("1.5", [1.5], "input 'ids': expected int64 values, found numbers with a fraction"),
    ("fraction-beside-whole", [[1.0], [2.5]], "expected int64 values, found numbers with a fraction"),
    ("1e30", [1e30], "input 'ids': a value is out of the int64 range"),
    ("2^63-as-float", [float(2**63)], "input 'ids': a value is out of the int64 range"),
    ("2^63-beside-float", [1.0, 2**63], "input 'ids': a value is out of the int64 range"),
    ("below-min-beside-float", [1.0, -(2**63) - 1], "a value is out of the int64 range"),
    ("2^53+1-as-float", [float(2**53 + 2)], "write int64 values past 2**53 as integers"),
]


@pytest.mark.parametrize(("data", "match"), [c[1:] for c in V2_INTEGERS_REFUSED],
                         ids=[c[0] for c in V2_INTEGERS_REFUSED])
def test_v2_json_refuses_a_fraction_or_a_value_out_of_range_for_an_integer_input(
        ids_app: ScoringApp, data: list[Any], match: str) -> None:
    status, raw, _headers = ids_app.v2.infer({}, json.dumps(_ids(data)).encode())
    body = strict(raw)
    assert status == 400 and match in body["error"], body


whole_or_not = st.one_of(st.integers(-3, 5), st.integers(-(2**70), 2**70),
                         st.floats(-1e6, 1e6, allow_nan=False).map(lambda f: round(f, 1)),
                         st.floats(allow_nan=False, allow_infinity=False),
                         st.integers(-3, 5).map(float), st.sampled_from(["1e0", "2.0E0", "-0.0", "1e30", "0.5"]))


@SETTINGS
@given(ids=st.lists(whole_or_not, min_size=1, max_size=8), nested=st.booleans())
def test_an_integer_input_gets_one_answer_however_the_body_is_read(ids_app: ScoringApp, ids: list[Any],
                                                                   nested: bool) -> None:
    # the numbers-only body and the same body with one more key (the general parser) answer alike; a
    # whole number below 2**53 written as a float answers as the integer does
    cells = [v if isinstance(v, str) else json.dumps(v) for v in ids]
    text = ", ".join(f"[{c}]" if nested else c for c in cells)
    body = ('{"data": [' + text + "]}").encode()
    general = ('{"data": [' + text + '], "_": 0}').encode()
    assert ids_app.entry._numbers_only(body) and not ids_app.entry._numbers_only(general)
    answer = _score(ids_app, body)
    assert _score(ids_app, general) == answer
    by_name = ('{"data": {"ids": [' + text + "]}}").encode()
    assert _score(ids_app, by_name) == answer
    values = [json.loads(c) for c in cells]
    if all(float(v).is_integer() and abs(v) < 2**53 for v in values):
        as_integers = ('{"data": [' + ", ".join(f"[{int(v)}]" if nested else str(int(v)) for v in values) + "]}")
        assert _score(ids_app, as_integers.encode()) == answer


# -- strings as sent, and what parsing them may cost -------------------------------------------------

def _text_v2(values: list[str], binary: bool) -> tuple[dict[bytes, bytes], bytes]:
    """A v2 request for text_app's input ``s``: JSON ``data``, or the binary tensor extension."""
    tensor: dict[str, Any] = {"name": "s", "datatype": "BYTES", "shape": [len(values), 1]}
    if not binary:
        header = json.dumps({"inputs": [{**tensor, "data": values}]}).encode()
        return {}, header
    raw = b"".join(len(v.encode()).to_bytes(4, "little") + v.encode() for v in values)
    header = json.dumps({"inputs": [{**tensor, "parameters": {"binary_data_size": len(raw)}}]}).encode()
    return {b"inference-header-content-length": str(len(header)).encode()}, header + raw


def test_strings_ending_in_nul_reach_the_model_as_sent(text_app: ScoringApp) -> None:
    # before: "red\x00" reached the model as "red" on every route (numpy's text arrays drop trailing NULs),
    # so a category model scored it as the known category; onnxruntime keeps it
    sent = ["red\x00", "\x00", "a\x00b\x00\x00"]
    assert _score(text_app, {"data": {"s": [[v] for v in sent]}}) == (200, {"s_out": [[v] for v in sent]})
    for binary in (False, True):
        headers, body = _text_v2(sent, binary)
        status, raw, _headers = text_app.v2.infer(headers, body)
        assert status == 200 and strict(raw)["outputs"][0]["data"] == sent, raw


@pytest.mark.parametrize("route", ["score", "v2-json", "v2-binary"])
def test_one_long_string_among_short_ones_costs_about_its_own_size(text_app: ScoringApp, route: str) -> None:
    # before: numpy gave every cell the longest string's width: 2,000 rows beside one string of 20,000
    # characters built a 160 MB array
    import tracemalloc

    sent = ["x" * 20_000] + ["y"] * 1_999
    tracemalloc.start()
    try:
        if route == "score":
            body = json.dumps({"data": {"s": sent}}).encode()
            status, raw = text_app.entry.score_bytes(body)
        else:
            headers, body = _text_v2(sent, route == "v2-binary")
            status, raw, _headers = text_app.v2.infer(headers, body)
        _size, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert status == 200, raw
    assert peak < 4 * 1024 * 1024, peak


@pytest.mark.parametrize("route", ["score", "v2"])
def test_a_body_of_empty_lists_for_a_string_input_is_refused_before_it_is_parsed(text_app: ScoringApp,
                                                                                  route: str) -> None:
    # before: no bound for a model with a string input: 16 MiB of "[]," took the server from 79 MB to 666 MB
    # before the 400
    import tracemalloc

    lists = b"[]," * (1024 * 1024 // 3) + b"[]"
    body = (b'{"data": {"s": [' + lists + b"]}}" if route == "score" else
            b'{"inputs": [{"name": "s", "datatype": "BYTES", "shape": [1, 1], "data": [' + lists + b"]}]}")
    tracemalloc.start()
    try:
        if route == "score":
            status, raw = text_app.entry.score_bytes(body)
            message = strict(raw)["message"]
        else:
            status, raw, _headers = text_app.v2.infer({}, body)
            message = strict(raw)["error"]
        _size, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert status == 413 and "JSON values; at most 10000 rows per request fit in" in message, raw
    assert peak < 3 * len(body), peak


def test_commas_and_brackets_inside_strings_do_not_count_against_the_limit(text_app: ScoringApp) -> None:
    # the row limit's worth of strings, each holding more commas and brackets than a row may
    sent = ['a,[b],{"c": 1},,,'] * 10_000
    assert _score(text_app, {"data": {"s": [[v] for v in sent]}}) == (200, {"s_out": [[v] for v in sent]})
    status, raw, _headers = text_app.v2.infer(*_text_v2(sent, binary=False))
    assert status == 200 and strict(raw)["outputs"][0]["data"] == sent


# -- null as NaN on v2, and floats beyond their type --------------------------------------------------

@pytest.fixture(scope="module")
def nan_app(app: ScoringApp, tmp_path_factory: pytest.TempPathFactory) -> ScoringApp:
    """The iris model packaged to take missing values in every input."""
    import onnxgate as og

    folder = og.package(str(Path(app.entry.__file__).parent / "model.onnx"), target="container",
                        out=tmp_path_factory.mktemp("nan") / "nan", allow_nan=True, service_name="nan")
    return create_app(folder)


def test_v2_json_takes_null_as_nan_where_score_does(nan_app: ScoringApp, app: ScoringApp) -> None:
    # before: v2 answered null with 400 "expected float64 values, found mixed or null values", where /score
    # and the docs take null as NaN for an input packaged to take missing values
    request = {"inputs": [_iris(data=[1.0, None, 3.0, 4.0])], "outputs": [{"name": "probabilities"}]}
    status, raw, _headers = nan_app.v2.infer({}, json.dumps(request).encode())
    assert status == 200, raw
    status, body = _score(nan_app, {"data": [[1.0, None, 3.0, 4.0]]})
    assert status == 200 and strict(raw)["outputs"][0]["data"] == body["probabilities"][0]
    status, raw, _headers = app.v2.infer({}, json.dumps(request).encode())
    assert status == 400
    # the refusal names the option that lets the input take missing values
    assert "input 'input': expected float64 values, found null (a missing value)" in strict(raw)["error"]
    assert "--option allow_nan=true" in strict(raw)["error"]


@pytest.fixture(scope="module")
def half_app(tmp_path_factory: pytest.TempPathFactory) -> ScoringApp:
    """A hand-made model with a float16 and a float32 input, added up as float32."""
    from onnx import TensorProto as T
    from onnx import helper as h

    import onnxgate as og

    graph = h.make_graph([h.make_node("Cast", ["half"], ["half32"], to=T.FLOAT),
                          h.make_node("Add", ["half32", "single"], ["total"])],
                         "half", [h.make_tensor_value_info("half", T.FLOAT16, ["N", 1]),
                                  h.make_tensor_value_info("single", T.FLOAT, ["N", 1])],
                         [h.make_tensor_value_info("total", T.FLOAT, ["N", 1])])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 15)])
    model.ir_version = 8
    folder = tmp_path_factory.mktemp("half") / "half"
    og.package(model, target="container", out=folder, service_name="half")
    return create_app(folder)


@pytest.mark.parametrize(("half", "single", "message"), [
    (70000, 1.0, "input 'half': a value is out of the float16 range (70000 in row 1; its largest is 65504)"),
    (1.0, 1e39, "input 'single': a value is out of the float32 range (1e+39 in row 1; its largest is 3.40282e+38)"),
], ids=["float16", "float32"])
def test_a_finite_value_beyond_a_float_type_is_out_of_range_not_missing(half_app: ScoringApp, half: float,
                                                                       single: float, message: str) -> None:
    # before: "NaN or infinity in row 1; this model was packaged to reject missing values"
    status, body = _score(half_app, {"data": {"half": [1.0, half], "single": [1.0, single]}})
    assert status == 400 and body["message"].startswith(message), body
    request = {"inputs": [{"name": "half", "datatype": "FP16", "shape": [2, 1], "data": [1.0, half]},
                          {"name": "single", "datatype": "FP32", "shape": [2, 1], "data": [1.0, single]}]}
    status, raw, _headers = half_app.v2.infer({}, json.dumps(request).encode())
    assert status == 400 and strict(raw)["error"].startswith(message), raw
    status, body = _score(half_app, {"data": {"half": [1.0, 65504], "single": [1.0, 3e38]}})
    assert status == 200, body


def test_a_float32_row_beyond_its_range_is_out_of_range_on_the_fast_path(app32: ScoringApp) -> None:
    # rows of numbers for a one-input float model are parsed by simdjson or in one pass; both name it
    for body in (b'{"data": [[1, 2, 3, 4], [1e39, 2, 3, 4]]}', b'{"data":[[1,2,3,4],[1e39,2,3,4]]}'):
        status, answer = _score(app32, body)
        assert status == 400 and "a value is out of the float32 range (1e+39 in row 1" in answer["message"], answer


def test_an_integer_beyond_any_number_type_is_named_so(app: ScoringApp) -> None:
    # 10**400 reached the float input as "mixed or null values" (helper-87)
    status, body = _score(app, b'{"data": [[1' + b"0" * 400 + b', 2, 3, 4]]}')
    assert status == 400 and body["error"] == "wrong_element_type"
    assert "an integer beyond the range of any number type" in body["message"], body


def test_a_row_limit_given_to_create_app_stays_with_its_package(tmp_path: Path) -> None:
    # create_app(max_rows=1) left ONNXGATE_MAX_ROWS set: every package loaded later took a limit of 1 (helper-130)
    import os

    from onnxgate.deploy.server import ENV_MAX_ROWS, load_entry_script

    model, X, _ = og.zoo.get("sklearn-iris-logreg").build()
    for name in ("a", "b"):
        og.package(og.convert(model, X[:5]), target="container", out=tmp_path / name)
    before = os.environ.get(ENV_MAX_ROWS)
    create_app(tmp_path / "a", max_rows=1)
    assert os.environ.get(ENV_MAX_ROWS) == before
    status, body = load_entry_script(tmp_path / "b").score(json.dumps({"data": X[:2].tolist()}))
    assert status == 200, body


# -- an image model's rows sent flat -----------------------------------------------------------------

@pytest.fixture(scope="module")
def image_app(tmp_path_factory: pytest.TempPathFactory) -> ScoringApp:
    """A hand-made image model: [N, 4, 4, 3] pixels in, each row flattened out; 10 rows per request."""
    from onnx import TensorProto as T
    from onnx import helper as h

    graph = h.make_graph([h.make_node("Flatten", ["pixels"], ["flat"], axis=1)], "image",
                         [h.make_tensor_value_info("pixels", T.FLOAT, ["N", 4, 4, 3])],
                         [h.make_tensor_value_info("flat", T.FLOAT, ["N", 48])])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 15)])
    model.ir_version = 8
    folder = tmp_path_factory.mktemp("image") / "image"
    og.package(model, target="container", out=folder, service_name="image", max_rows=10)
    return create_app(folder)


@pytest.mark.parametrize("shape", [[240], [80, 3], [20, 4, 3]], ids=["flat", "pixels-by-channel", "rank-3"])
@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_an_image_sent_flat_gets_the_shape_to_send_not_the_row_limit(image_app: ScoringApp, shape: list[int],
                                                                     binary: bool) -> None:
    # 5 images of [4, 4, 3] sent flat: the first size (240, 80, 20) was taken for rows and refused 413 "over the
    # limit of 10 per request; split the request", where the fault is the shape
    values = np.arange(240, dtype=np.float32)
    tensor: dict[str, Any] = {"name": "pixels", "datatype": "FP32", "shape": shape}
    if binary:
        header = json.dumps({"inputs": [{**tensor, "parameters": {"binary_data_size": values.nbytes}}]}).encode()
        headers, body = {b"inference-header-content-length": str(len(header)).encode()}, header + values.tobytes()
    else:
        headers, body = {}, json.dumps({"inputs": [{**tensor, "data": values.tolist()}]}).encode()
    status, raw, _headers = image_app.v2.infer(headers, body)
    assert status == 400, raw
    assert strict(raw)["error"] == (f"input 'pixels': shape {shape} does not fit the model's input shape "
                                    "[N, 4, 4, 3] (N = rows); its 240 values are 5 row(s) of [4, 4, 3]: send shape "
                                    "[5, 4, 4, 3]")
    status, raw, _headers = image_app.v2.infer({}, json.dumps({"inputs": [{
        **tensor, "shape": [5, 4, 4, 3], "data": values.tolist()}]}).encode())
    assert status == 200 and strict(raw)["outputs"][0]["data"] == values.tolist()


def test_score_route_names_the_shape_of_an_image_sent_flat_before_the_row_limit(image_app: ScoringApp) -> None:
    status, body = _score(image_app, {"data": list(range(240))})
    assert status == 400 and body["error"] == "wrong_shape", body
    assert "expected 4-d data of shape [N, 4, 4, 3] (N = rows), found 1-d data of shape [240]" in body["message"]
