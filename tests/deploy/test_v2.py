"""The Open Inference Protocol (KServe v2), called with the real ``tritonclient[http]`` client.

Every test runs against both servers a user gets: ``onnxgate serve DIR`` and the container's own
command, ``python server.py DIR`` run from the package folder. Outputs are compared with
onnxruntime called directly on the same arrays.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _serving import Server, free_port, onnxgate_serve, package_zoo

import onnxgate as og

th = pytest.importorskip("tritonclient.http", reason="the v2 tests call the server with tritonclient[http]")
from tritonclient.utils import InferenceServerException  # noqa: E402

pytestmark = pytest.mark.network

IRIS = "sklearn-iris-logreg"
MAX_ROWS = 50
KEY_ENV = "ONNXGATE_TEST_V2_KEY"
KEY = "v2-secret"
SERVERS = ["onnxgate-serve", "container-server-py"]


def _start(kind: str, folder: Path, *extra: str, env: dict[str, str] | None = None) -> Server:
    if kind == "onnxgate-serve":
        return onnxgate_serve(folder, *extra, env=env).wait_healthy()
    port = free_port()
    argv = [sys.executable, str(folder / "server.py"), str(folder), "--port", str(port), *extra]
    return Server(argv, port, cwd=str(folder), env=env).wait_healthy()


def _types_model() -> Any:
    """A hand-made model with INT32, BOOL and string (BYTES) inputs and outputs."""
    from onnx import TensorProto as T
    from onnx import helper as h

    graph = h.make_graph(
        [h.make_node("Identity", ["a"], ["a_out"]), h.make_node("Not", ["b"], ["b_out"]),
         h.make_node("Identity", ["s"], ["s_out"])],
        "types",
        [h.make_tensor_value_info("a", T.INT32, ["N", 2]), h.make_tensor_value_info("b", T.BOOL, ["N", 1]),
         h.make_tensor_value_info("s", T.STRING, ["N", 1])],
        [h.make_tensor_value_info("a_out", T.INT32, ["N", 2]), h.make_tensor_value_info("b_out", T.BOOL, ["N", 1]),
         h.make_tensor_value_info("s_out", T.STRING, ["N", 1])],
    )
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 15)])
    model.ir_version = 8
    return model


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("v2")
    iris, native, X = package_zoo(IRIS, root / "iris", max_rows=MAX_ROWS, precision="float32")
    sql = og.convert(native, X[:40], target="sql-edge-2.0")  # one [N,1] input per column
    multi = og.package(sql, target="container", out=root / "multi", service_name="iris-columns")
    types = og.package(_types_model(), target="container", out=root / "types", service_name="types")
    return {"iris": iris, "multi": multi, "types": types, "X": np.asarray(X, dtype=np.float64)}


@pytest.fixture(scope="module", params=SERVERS)
def servers(request: pytest.FixtureRequest, packages: dict[str, Any]) -> Iterator[dict[str, Server]]:
    started: dict[str, Server] = {}
    try:
        for name in ("iris", "multi", "types"):
            started[name] = _start(request.param, packages[name])
        yield started
    finally:
        for srv in started.values():
            srv.stop()


def client(srv: Server) -> Any:
    return th.InferenceServerClient(f"127.0.0.1:{srv.port}")


def model_name(folder: Path) -> str:
    return str(json.loads((folder / "manifest.json").read_text())["service"]["name"])


def ort_run(folder: Path, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))


def tensor(name: str, arr: np.ndarray, datatype: str, binary: bool) -> Any:
    inp = th.InferInput(name, list(arr.shape), datatype)
    inp.set_data_from_numpy(arr, binary_data=binary)
    return inp


def test_health_server_and_model_metadata(servers: dict[str, Server], packages: dict[str, Any]) -> None:
    c = client(servers["iris"])
    name = model_name(packages["iris"])
    assert name == "logisticregression"
    assert c.is_server_live() and c.is_server_ready() and c.is_model_ready(name)
    assert c.get_server_metadata()["extensions"] == ["binary_tensor_data"]
    meta = c.get_model_metadata(name)
    assert meta == {
        "name": name, "versions": ["1"], "platform": "onnxruntime_onnx",
        "inputs": [{"name": "input", "datatype": "FP64", "shape": [-1, 4]}],
        "outputs": [{"name": "label", "datatype": "INT64", "shape": [-1]},
                    {"name": "probabilities", "datatype": "FP32", "shape": [-1, 3]}],
    }
    assert c.get_model_metadata(name, model_version="1") == meta
    types = client(servers["types"]).get_model_metadata("types")
    assert [(t["name"], t["datatype"], t["shape"]) for t in types["inputs"]] == [
        ("a", "INT32", [-1, 2]), ("b", "BOOL", [-1, 1]), ("s", "BYTES", [-1, 1])]


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_infer_gives_onnxruntimes_outputs(servers: dict[str, Server], packages: dict[str, Any],
                                          binary: bool) -> None:
    folder, X = packages["iris"], packages["X"][:MAX_ROWS]
    outs = [th.InferRequestedOutput(n, binary_data=binary) for n in ("label", "probabilities")]
    result = client(servers["iris"]).infer(model_name(folder), [tensor("input", X, "FP64", binary)], outputs=outs,
                                           request_id="r-1")
    want = ort_run(folder, {"input": X})
    np.testing.assert_array_equal(result.as_numpy("label"), want["label"])
    assert result.as_numpy("probabilities").dtype == np.float32
    np.testing.assert_array_equal(result.as_numpy("probabilities"), want["probabilities"])
    response = result.get_response()
    assert response["id"] == "r-1" and response["model_version"] == "1"
    assert ("parameters" in response["outputs"][0]) is binary


@pytest.mark.parametrize(("request_coding", "response_coding"), [("gzip", "gzip"), ("deflate", "deflate"),
                                                                  ("gzip", None)])
def test_compressed_requests_and_answers_as_tritonclient_sends_and_asks(
        servers: dict[str, Server], packages: dict[str, Any], request_coding: str, response_coding: str | None) -> None:
    # before: tritonclient's request_compression_algorithm got 415, and a user of Triton's option had to drop it
    folder, X = packages["iris"], packages["X"][:MAX_ROWS]
    result = client(servers["iris"]).infer(
        model_name(folder), [tensor("input", X, "FP64", True)],
        outputs=[th.InferRequestedOutput(n, binary_data=True) for n in ("label", "probabilities")],
        request_compression_algorithm=request_coding, response_compression_algorithm=response_coding)
    want = ort_run(folder, {"input": X})
    np.testing.assert_array_equal(result.as_numpy("label"), want["label"])
    np.testing.assert_array_equal(result.as_numpy("probabilities"), want["probabilities"])


def test_a_compressed_body_is_held_to_the_body_limit_once_decompressed(packages: dict[str, Any]) -> None:
    # a small gzip body must not expand past --max-body-bytes (a "zip bomb"): 413, as an uncompressed one gets
    import gzip
    import zlib

    srv = _start("onnxgate-serve", packages["iris"], "--max-body-bytes", "100000")
    try:
        bomb = gzip.compress(b" " * 5_000_000)
        assert len(bomb) < 100_000
        status, payload = _post(srv, "/v2/models/logisticregression/infer", bomb, {"Content-Encoding": "gzip"})
        assert status == 413 and "over 100000 bytes" in payload["error"]
        status, raw = srv.request("POST", "/score", bomb, {"Content-Encoding": "gzip",
                                                           "Content-Type": "application/json"})
        assert status == 413 and json.loads(raw)["error"] == "body_too_large"
        rows = gzip.compress(json.dumps({"data": packages["X"][:2].tolist()}).encode())
        status, raw = srv.request("POST", "/score", rows, {"Content-Encoding": "gzip",
                                                           "Content-Type": "application/json"})
        assert status == 200 and len(json.loads(raw)["label"]) == 2
        # gzip allows several members back to back (`cat a.gz b.gz`): before, only the first was read and the
        # request was answered from a cut body
        body = json.dumps({"data": packages["X"][:3].tolist()}).encode()
        members = gzip.compress(body[:20]) + gzip.compress(body[20:])
        status, raw = srv.request("POST", "/score", members, {"Content-Encoding": "gzip",
                                                              "Content-Type": "application/json"})
        assert status == 200 and len(json.loads(raw)["label"]) == 3, raw
        half = gzip.compress(b" " * 60_000)  # each member is within the limit, the two are not
        status, payload = _post(srv, "/v2/models/logisticregression/infer", half + half, {"Content-Encoding": "gzip"})
        assert status == 413, payload
        status, payload = _post(srv, "/v2/models/logisticregression/infer", zlib.compress(body) + b"junk",
                                {"Content-Encoding": "deflate"})
        assert status == 400 and "4 byte(s) after its compressed data ends" in payload["error"], payload
    finally:
        srv.stop()


def test_only_the_requested_outputs_come_back(servers: dict[str, Server], packages: dict[str, Any]) -> None:
    X = packages["X"][:3]
    result = client(servers["iris"]).infer(model_name(packages["iris"]), [tensor("input", X, "FP64", True)],
                                           outputs=[th.InferRequestedOutput("probabilities")])
    assert [o["name"] for o in result.get_response()["outputs"]] == ["probabilities"]
    assert result.as_numpy("label") is None


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_multi_input_sql_adapted_model(servers: dict[str, Server], packages: dict[str, Any], binary: bool) -> None:
    folder, X = packages["multi"], packages["X"][:20]
    columns = {f"f{i}": np.ascontiguousarray(X[:, i : i + 1]) for i in range(4)}
    result = client(servers["multi"]).infer("iris-columns", [tensor(n, a, "FP64", binary) for n, a in columns.items()])
    want = ort_run(folder, columns)
    assert set(want) == {"label", "p_0", "p_1", "p_2"}
    for name, values in want.items():
        np.testing.assert_array_equal(result.as_numpy(name), values)


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_int32_bool_and_bytes_tensors(servers: dict[str, Server], binary: bool) -> None:
    a = np.array([[1, -2], [2147483647, 0]], dtype=np.int32)
    b = np.array([[True], [False]])
    s = np.array([["héllo"], [""]], dtype=object)
    result = client(servers["types"]).infer("types", [tensor("a", a, "INT32", binary), tensor("b", b, "BOOL", binary),
                                                      tensor("s", s, "BYTES", binary)])
    np.testing.assert_array_equal(result.as_numpy("a_out"), a)
    np.testing.assert_array_equal(result.as_numpy("b_out"), ~b)
    got = result.as_numpy("s_out").reshape(-1).tolist()
    assert [v.decode() if isinstance(v, bytes) else v for v in got] == ["héllo", ""]


def test_whole_numbers_written_as_floats_feed_an_integer_input(servers: dict[str, Server]) -> None:
    # JSON has one number type: a client that writes 1 as 1.0 (JavaScript, many serializers) gets the
    # answer 1 gets, on the v2 JSON route and on /score; 1.5 and a value past int32 are refused by name
    srv = servers["types"]

    def infer(a: list[Any]) -> tuple[int, Any]:
        request = {"inputs": [{"name": "a", "datatype": "INT32", "shape": [2, 2], "data": a},
                              {"name": "b", "datatype": "BOOL", "shape": [2, 1], "data": [True, False]},
                              {"name": "s", "datatype": "BYTES", "shape": [2, 1], "data": ["x", "y"]}],
                   "outputs": [{"name": "a_out"}]}
        return _post(srv, "/v2/models/types/infer", json.dumps(request).encode())

    status, want = infer([1, -2, 2147483647, 0])
    assert status == 200 and want["outputs"][0]["data"] == [1, -2, 2147483647, 0]
    assert infer([1.0, -2.0, 2147483647.0, 0.0]) == (200, want)
    assert infer([[1.0, -2], [2147483647, 0e0]]) == (200, want)
    for a, match in (([1.5, -2, 3, 0], "input 'a': expected int32 values, found numbers with a fraction"),
                     ([1.0, -2, 2147483648, 0], "input 'a': a value is out of the int32 range"),
                     ([1e30, -2, 3, 0], "input 'a': a value is out of the int32 range")):
        status, body = infer(a)
        assert status == 400 and match in body["error"], body

    def score(a: list[Any]) -> tuple[int, Any]:
        return srv.score({"data": {"a": a, "b": [[True], [False]], "s": [["x"], ["y"]]}})

    status, want = score([[1, -2], [2147483647, 0]])
    assert status == 200 and want["a_out"] == [[1, -2], [2147483647, 0]]
    assert score([[1.0, -2.0], [2147483647.0, 0.0]]) == (200, want)
    for a, match in (([[1.5, -2], [3, 0]], "input 'a': expected int32 values, found numbers with a fraction"),
                     ([[1.0, -2], [2147483648, 0]], "input 'a': a value is out of the int32 range"),
                     ([[1e30, -2], [3, 0]], "input 'a': a value is out of the int32 range")):
        status, body = score(a)
        assert status == 400 and match in body["message"], body


def _types_request(s: list[Any], b: list[bool] | None = None) -> dict[str, Any]:
    """A v2 JSON request for the types model with two rows, ``s`` the string column."""
    return {"inputs": [{"name": "a", "datatype": "INT32", "shape": [2, 2], "data": [1, 2, 3, 4]},
                       {"name": "b", "datatype": "BOOL", "shape": [2, 1], "data": b or [True, False]},
                       {"name": "s", "datatype": "BYTES", "shape": [2, 1], "data": s}]}


@pytest.mark.parametrize(("value", "found"), [(5, "integers (5 among"), (True, "booleans (true among"),
                                              (1.5, "numbers with a fraction (1.5 among")],
                         ids=["integer", "boolean", "float"])
def test_a_number_beside_strings_is_refused_not_turned_into_text(servers: dict[str, Server], value: Any,
                                                                 found: str) -> None:
    # before: ["x", 5] was scored as ["x", "5"] (numpy makes text of it), while [5, 6] was refused
    srv = servers["types"]
    status, body = _post(srv, "/v2/models/types/infer", json.dumps(_types_request(["x", value])).encode())
    assert status == 400 and f"input 's': expected string values, found {found}" in body["error"], body
    status, body = srv.score({"data": {"a": [[1, 2], [3, 4]], "b": [[True], [False]], "s": [["x"], [value]]}})
    assert status == 400 and body["error"] == "wrong_element_type", body
    assert f"input 's': expected string values, found {found}" in body["message"]
    status, body = _post(srv, "/v2/models/types/infer", json.dumps(_types_request(["x", "5"])).encode())
    assert status == 200 and body["outputs"][2]["data"] == ["x", "5"], body


def test_strings_ending_in_nul_reach_the_model_as_sent(servers: dict[str, Server]) -> None:
    # before: "x\x00" reached the model as "x" on /score and on v2 JSON and binary tensors (numpy's text
    # arrays drop trailing NUL characters), so the model's pass-through output lost them too
    srv = servers["types"]
    sent = ["x\x00", "\x00\x00"]
    status, body = srv.score({"data": {"a": [[1, 2], [3, 4]], "b": [[True], [False]], "s": [[v] for v in sent]}})
    assert status == 200 and body["s_out"] == [[v] for v in sent], body
    for binary in (False, True):
        inputs = [tensor("a", np.array([[1, 2], [3, 4]], dtype=np.int32), "INT32", binary),
                  tensor("b", np.array([[True], [False]]), "BOOL", binary),
                  tensor("s", np.array([[v.encode()] for v in sent], dtype=object), "BYTES", binary)]
        result = client(srv).infer("types", inputs, outputs=[th.InferRequestedOutput("s_out", binary_data=binary)])
        got = [v if isinstance(v, bytes) else v.encode() for v in result.as_numpy("s_out").reshape(-1).tolist()]
        assert got == [v.encode() for v in sent], (binary, got)


def test_binary_bool_bytes_other_than_0_and_1_are_refused(servers: dict[str, Server]) -> None:
    # before: the byte 2 reached the model as a true that Not() left true
    srv = servers["types"]
    request = _types_request(["x", "y"])
    request["inputs"][1] = {"name": "b", "datatype": "BOOL", "shape": [2, 1], "parameters": {"binary_data_size": 2}}
    request["outputs"] = [{"name": "b_out"}]
    header = json.dumps(request).encode()
    headers = {"Inference-Header-Content-Length": str(len(header)), "Content-Type": "application/octet-stream"}
    status, body = _post(srv, "/v2/models/types/infer", header + bytes([1, 0]), headers)
    assert status == 200 and body["outputs"][0]["data"] == [False, True], body
    for octet in (2, 255):
        status, body = _post(srv, "/v2/models/types/infer", header + bytes([0, octet]), headers)
        assert status == 400, body
        assert body["error"] == f"input 'b': a BOOL element is one byte, 0 (false) or 1 (true); element 1 is {octet}"


def _expect(exc: pytest.ExceptionInfo[InferenceServerException], status: str, match: str) -> None:
    assert exc.value.status() == status, exc.value
    assert match in exc.value.message(), exc.value.message()


BAD_INFER = [
    # id, inputs as (name, array, datatype), expected status, message fragment
    ("unknown-input", [("nope", np.zeros((1, 4)), "FP64")], "400", "unknown input 'nope'"),
    ("wrong-datatype", [("input", np.zeros((1, 4), np.float32), "FP32")], "400",
     "expected datatype FP64, found 'FP32'"),
    ("row-width", [("input", np.zeros((1, 3)), "FP64")], "400", "expected 4 values on axis 1"),
    ("rank", [("input", np.zeros((1, 2, 2)), "FP64")], "400", "expected 2-d data"),
    ("too-many-rows", [("input", np.zeros((MAX_ROWS + 1, 4)), "FP64")], "413", "over the limit of 50"),
    ("non-finite", [("input", np.array([[1.0, np.nan, 2, 3]]), "FP64")], "400", "NaN or infinity in row 0"),
]


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
@pytest.mark.parametrize(("inputs", "status", "match"), [b[1:] for b in BAD_INFER], ids=[b[0] for b in BAD_INFER])
def test_bad_infer_requests_get_a_4xx_naming_the_problem(servers: dict[str, Server], packages: dict[str, Any],
                                                         inputs: list[Any], status: str, match: str,
                                                         binary: bool) -> None:
    # JSON has no NaN: tritonclient's JSON mode writes the NaN literal, which the server reads (as /score
    # does) so that the model's NaN rule answers it
    with pytest.raises(InferenceServerException) as exc:
        client(servers["iris"]).infer(model_name(packages["iris"]),
                                      [tensor(n, a, d, binary) for n, a, d in inputs])
    _expect(exc, status, match)


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_an_empty_batch_gets_empty_outputs(servers: dict[str, Server], packages: dict[str, Any], binary: bool) -> None:
    empty = tensor("input", np.zeros((0, 4)), "FP64", binary)
    got = client(servers["iris"]).infer(model_name(packages["iris"]), [empty])
    assert got.as_numpy("label").shape == (0,) and got.as_numpy("label").dtype == np.int64
    assert got.as_numpy("probabilities").shape == (0, 3)


def test_missing_input_unknown_output_model_and_version(servers: dict[str, Server], packages: dict[str, Any]) -> None:
    c = client(servers["multi"])
    one = [tensor("f0", np.zeros((2, 1)), "FP64", True)]
    with pytest.raises(InferenceServerException) as exc:
        c.infer("iris-columns", one)
    _expect(exc, "400", "missing input(s) ['f1', 'f2', 'f3']")
    four = [tensor(f"f{i}", np.zeros((2, 1)), "FP64", True) for i in range(4)]
    with pytest.raises(InferenceServerException) as exc:
        c.infer("iris-columns", four, outputs=[th.InferRequestedOutput("p_9")])
    _expect(exc, "400", "unknown output 'p_9'")
    rows = [tensor("f0", np.zeros((3, 1)), "FP64", True), *four[1:]]
    with pytest.raises(InferenceServerException) as exc:
        c.infer("iris-columns", rows)
    _expect(exc, "400", "different numbers of rows")
    with pytest.raises(InferenceServerException) as exc:
        c.infer("other-model", four)
    _expect(exc, "404", "unknown model 'other-model'; this server serves 'iris-columns'")
    with pytest.raises(InferenceServerException) as exc:
        c.infer("iris-columns", four, model_version="2")
    _expect(exc, "404", "no version '2'")
    assert not c.is_model_ready("other-model")


def _post(srv: Server, path: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    status, raw = srv.request("POST", path, body, headers or {})
    return status, json.loads(raw)


def _binary(declared: int | str, sent: int) -> tuple[bytes, dict[str, str]]:
    header = json.dumps({"inputs": [{"name": "input", "datatype": "FP64", "shape": [1, 4],
                                     "parameters": {"binary_data_size": declared}}]}).encode()
    return header + bytes(sent), {"Inference-Header-Content-Length": str(len(header))}


_ROW = b'{"name": "input", "datatype": "FP64", "shape": [1, 4], "data": [5.1, 3.5, 1.4, 0.2]}'

RAW_BAD = [
    # id, body, extra headers, status, message fragment
    ("not-json", b'{"inputs": [', {}, 400, "the request body is not valid JSON"),
    ("not-an-object", b"[1, 2]", {}, 400, "expected an inference request object"),
    ("no-inputs", b'{"outputs": []}', {}, 400, "'inputs' must be a non-empty list"),
    ("bad-shape", b'{"inputs": [{"name": "input", "datatype": "FP64", "shape": [1, -4], "data": [1,2,3,4]}]}', {},
     400, "'shape' must be a list of sizes"),
    ("shape-vs-data", b'{"inputs": [{"name": "input", "datatype": "FP64", "shape": [2, 4], "data": [1,2,3,4]}]}', {},
     400, "shape [2, 4] holds 8 values, 'data' holds 4"),
    ("booleans", b'{"inputs": [{"name": "input", "datatype": "FP64", "shape": [1, 4], "data": [true,2,3,4]}]}', {},
     400, "found booleans"),
    ("strings", b'{"inputs": [{"name": "input", "datatype": "FP64", "shape": [1, 4], "data": ["1",2,3,4]}]}', {},
     400, "expected float64 values, found"),
    ("header-length-too-big", b'{"inputs": []}', {"Inference-Header-Content-Length": "999"}, 400,
     "Inference-Header-Content-Length '999'"),
    # before: 500 {"error": "scoring failed: ValueError"} (int() refuses over 4,300 digits)
    ("header-length-5000-digits", b'{"inputs": []}', {"Inference-Header-Content-Length": "9" * 5000}, 400,
     "must be a byte count within the body's 14 bytes"),
    # binary data after the JSON without the header that says where the JSON ends (helper-72)
    ("binary-without-header", b'{"inputs": []}\xf6\x00\x01\x02', {}, 400,
     "gives the length of its JSON header in the Inference-Header-Content-Length header"),
    ("binary-size-mismatch", *_binary(16, 16), 400, "needs 32 bytes, binary_data_size is 16"),
    ("binary-past-the-end", *_binary(32, 16), 400, "binary_data_size 32 is not within the 16 bytes"),
    ("binary-left-over", *_binary(32, 40), 400, "8 bytes of binary data follow the inputs"),
    # before: "binary_data_size '32' is not within the 32 bytes of binary data left"
    ("binary-size-a-string", *_binary("32", 32), 400, "binary_data_size must be a byte count (a whole number, 0 or "
     "more), found '32'"),
    # before: "has neither 'data' nor parameters.binary_data_size", which named no reason
    ("input-in-shared-memory", b'{"inputs": [{"name": "input", "datatype": "FP64", "shape": [1, 4], "parameters": '
     b'{"shared_memory_region": "r", "shared_memory_byte_size": 32}}]}', {}, 400,
     "input 'input': parameters.shared_memory_region asks for the shared memory extension, which this server does "
     "not serve (its extensions: binary_tensor_data)"),
    ("nested-too-deep", b"[" * 5000 + b"]" * 5000, {}, 400, "nests deeper than 1024 levels"),
    ("compressed-unknown", b"x", {"Content-Encoding": "br"}, 415, "Content-Encoding 'br' is not supported"),
    ("compressed-not-gzip", b"plain text, not gzip", {"Content-Encoding": "gzip"}, 400,
     "the body is not valid gzip data"),
    ("compressed-cut-short", __import__("gzip").compress(b'{"inputs": []}' * 50)[:-20], {"Content-Encoding": "gzip"},
     400, "ends before its compressed data does"),
    # before: each of these four got 200 (no outputs; raw probabilities; the object echoed; the rows read flat)
    ("outputs-empty", b'{"inputs": [%s], "outputs": []}' % _ROW, {}, 400, "'outputs' is empty"),
    ("classification", b'{"inputs": [%s], "outputs": [{"name": "probabilities", "parameters": {"classification": 2}}]}'
     % _ROW, {}, 400, "the classification extension is not supported"),
    ("id-not-a-string", b'{"id": {"a": [1]}, "inputs": [%s]}' % _ROW, {}, 400, "'id' must be a string"),
    ("nested-not-as-shape", b'{"inputs": [{"name": "input", "datatype": "FP64", "shape": [1, 4], '
     b'"data": [[1, 2], [3, 4]]}]}', {}, 400, "'data' is nested as [2, 2], not as its shape [1, 4]"),
]


@pytest.mark.parametrize(("body", "headers", "status", "match"), [b[1:] for b in RAW_BAD], ids=[b[0] for b in RAW_BAD])
def test_malformed_infer_bodies_get_the_protocols_error(servers: dict[str, Server], body: bytes,
                                                        headers: dict[str, str], status: int, match: str) -> None:
    got, payload = _post(servers["iris"], "/v2/models/logisticregression/infer", body, headers)
    assert got == status and list(payload) == ["error"], payload
    assert match in payload["error"]


def test_an_output_asked_for_in_shared_memory_is_refused_not_left_unwritten(servers: dict[str, Server],
                                                                           packages: dict[str, Any]) -> None:
    # tritonclient reads such an output from the region, not the answer: answered 200 with the output in the body,
    # the client read the region as it was, with no error
    wanted = th.InferRequestedOutput("probabilities")
    wanted.set_shared_memory("probabilities_region", 3 * 4)
    with pytest.raises(InferenceServerException) as exc:
        client(servers["iris"]).infer(model_name(packages["iris"]), [tensor("input", packages["X"][:1], "FP64", True)],
                                      outputs=[wanted])
    _expect(exc, "400", "output 'probabilities': parameters.shared_memory_region asks for the shared memory extension")


def test_wrong_methods_and_routes_are_json_errors(servers: dict[str, Server]) -> None:
    import http.client

    srv = servers["iris"]
    status, raw = srv.get("/v2/models/logisticregression/infer")
    assert status == 405 and "use POST" in json.loads(raw)["error"]
    status, raw = srv.get("/v2/repository/index")
    assert status == 404 and "/v2/health/live" in json.loads(raw)["error"]
    # before: any path starting with "/v2" was a v2 route; /v2beta/... answered 200 and ran inference
    for path in ("/v2beta/models/logisticregression/ready", "/v2x", "/v20/health/live"):
        status, raw = srv.get(path)
        assert status == 404 and json.loads(raw)["error"] == "not_found", (path, raw)
    # a 405 says which methods the route takes (RFC 9110); before: no Allow header on any v2 route
    for method, path, allow in (("GET", "/v2/models/logisticregression/infer", "POST"),
                                ("POST", "/v2/health/live", "GET, HEAD"), ("DELETE", "/v2/models/logisticregression",
                                                                          "GET, HEAD"),
                                ("GET", "/score", "POST"), ("POST", "/swagger.json", "GET, HEAD")):
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        try:
            conn.request(method, path, body=b"{}" if method == "POST" else None)
            resp = conn.getresponse()
            resp.read()
            assert resp.status == 405 and resp.getheader("Allow") == allow, (method, path)
            assert resp.getheader("Content-Type") == "application/json", (method, path)
        finally:
            conn.close()


def test_a_bytes_tensor_of_the_wrong_shape_is_refused_before_its_elements_are_read(
        servers: dict[str, Server]) -> None:
    """Before: 2,795,869 two-byte elements declared [1, 2795869] for an [N,1] input were decoded into Python
    strings (2 s, 250 MB) before the shape was refused."""
    srv = servers["types"]
    count = 200_000
    raw = (b"\x02\x00\x00\x00ab") * count
    request = {"inputs": [
        {"name": "a", "datatype": "INT32", "shape": [1, 2], "data": [1, 2]},
        {"name": "b", "datatype": "BOOL", "shape": [1, 1], "data": [True]},
        {"name": "s", "datatype": "BYTES", "shape": [1, count], "parameters": {"binary_data_size": len(raw)}}]}
    header = json.dumps(request).encode()
    status, body = _post(srv, "/v2/models/types/infer", header + raw,
                         {"Inference-Header-Content-Length": str(len(header))})
    assert status == 400
    assert body["error"] == (f"input 's': shape [1, {count}] does not fit the model's input shape [N, 1] (N = rows); "
                             f"its {count} values are {count} row(s) of [1]: send shape [{count}, 1]")


def test_v2_routes_need_the_key_like_score(packages: dict[str, Any]) -> None:
    srv = _start("onnxgate-serve", packages["iris"], "--api-key-env", KEY_ENV, env={KEY_ENV: KEY})
    try:
        c = client(srv)
        assert c.is_server_live() and c.is_server_ready(), "health probes need no key"
        X = packages["X"][:2]
        with pytest.raises(InferenceServerException) as exc:
            c.infer("logisticregression", [tensor("input", X, "FP64", True)])
        _expect(exc, "401", "unauthorized")
        with pytest.raises(InferenceServerException) as exc:
            c.get_model_metadata("logisticregression", headers={"Authorization": "Bearer wrong"})
        _expect(exc, "401", "unauthorized")
        result = c.infer("logisticregression", [tensor("input", X, "FP64", True)],
                         headers={"Authorization": f"Bearer {KEY}"})
        assert result.as_numpy("label").tolist() == [0, 0]
    finally:
        srv.stop()


def test_the_openapi_files_document_the_v2_routes(packages: dict[str, Any]) -> None:
    folder = packages["iris"]
    for file in ("swagger.json", "swagger3.json"):
        paths = json.loads((folder / file).read_text())["paths"]
        assert {"/", "/score", "/v2/health/live", "/v2/health/ready", "/v2/models/logisticregression",
                "/v2/models/logisticregression/ready", "/v2/models/logisticregression/infer"} <= set(paths)
        assert paths["/v2/models/logisticregression/infer"]["post"]["security"] == [{"Bearer": []}]
    v3 = json.loads((folder / "swagger3.json").read_text())
    meta = v3["components"]["schemas"]["V2ModelMetadata"]["properties"]["inputs"]["example"]
    assert meta == [{"name": "input", "datatype": "FP64", "shape": [-1, 4]}]


def test_category_values_reach_an_xgboost_input_of_category_codes(tmp_path: Path) -> None:
    # an XGBoost model fitted on a pandas category column reads its codes (INT32): infer refused the categories
    # as BYTES ("expected datatype INT32, found 'BYTES'"), and read INT32 category values 7, 12 as codes, another
    # category's answer (0.76 off predict_proba); /score already took the values (helper-221)
    xgboost = pytest.importorskip("xgboost")
    import pandas as pd

    rng = np.random.default_rng(11)
    categories = [7, 12, 19, 23]
    band = np.array(categories, dtype=object)[rng.integers(0, 4, 300)]
    band[rng.random(300) < 0.15] = None
    x = rng.normal(size=300)
    frame = pd.DataFrame({"x": x, "band": pd.Categorical(band, categories=categories)})
    y = ((x + np.where(pd.isna(band), 1.5, np.where(band == 12, -1.0, 0.3))) > 0.2).astype(int)
    model = xgboost.XGBClassifier(n_estimators=5, max_depth=3, enable_categorical=True, n_jobs=1).fit(frame, y)
    folder = og.package(og.convert(model, frame.head(40)), target="container", out=tmp_path / "p", service_name="xgb")
    rows = frame.head(20)
    want = model.predict_proba(rows)
    assert rows.band.isna().any() and rows.band.notna().any()
    xs = np.ascontiguousarray(rows[["x"]].to_numpy())
    values = rows.band.astype(object).to_numpy().reshape(-1, 1)  # NaN for a missing one
    as_int = np.array([[-1 if pd.isna(v) else v] for v in values[:, 0]], dtype=np.int32)
    srv = _start("container-server-py", folder)
    try:
        c = client(srv)
        assert c.get_model_metadata("xgb")["inputs"][1] == {"name": "band", "datatype": "INT32", "shape": [-1, 1]}
        for binary in (False, True):
            for sent, datatype in ((values, "BYTES"), (as_int, "INT32")):
                result = c.infer("xgb", [tensor("x", xs, "FP64", binary), tensor("band", sent, datatype, binary)])
                np.testing.assert_allclose(result.as_numpy("probabilities"), want, atol=1e-5)
        with pytest.raises(InferenceServerException) as exc:  # a category XGBoost was not fitted on: it raises
            c.infer("xgb", [tensor("x", xs[:1], "FP64", True), tensor("band", np.array([["99"]], dtype=object),
                                                                          "BYTES", True)])
        _expect(exc, "400", "none of the model's categories [7, 12, 19, 23]")
    finally:
        srv.stop()
