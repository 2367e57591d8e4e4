"""Azure ML entry script for an ONNX model, written by onnxgate.

Self-contained: it needs only the Python standard library, numpy and onnxruntime. It runs unchanged
under the Azure ML inference server (``azmlinfsrv --entry_script score.py``), inside the container
built from this folder, and behind ``onnxgate serve``.

Contract
--------
``init()`` loads the model once: from ``AZUREML_MODEL_DIR`` when it is set (the folder itself or a
nested ``<name>/<version>/`` or ``model/`` folder), else from next to this file. The file's SHA-256
must match the model that was validated when the package was written.

``run(raw_data)`` scores one request. ``raw_data`` is the request body (a JSON string or bytes, as
the inference server passes it to an undecorated ``run``) or an already-parsed dict:

* ``{"data": [[...], [...]]}``: rows, for a model with one input;
* ``{"data": {"input_name": [...], ...}}``: values by input name, for any model;
* ``{"data": [{"column": value, ...}, ...]}``: records, for a model with one input per column.

A model whose one ``[N,k]`` input was packaged with a DataFrame of ``k`` columns (``pd.DataFrame(X)``: a model that
records no column names) also takes records keyed by that frame's column labels as text (``"0"``, ``"1"``...),
each value put at its label's position, in any key order (``CONFIG["row_columns"]``).

A model converted from a DataFrame takes the DataFrame's own column names wherever an input name
goes (``"sepal length (cm)"`` for the input ``sepal_length__cm_``): ``CONFIG["columns"]`` pairs them,
and error messages name both (``column 'sepal length (cm)' (input 'sepal_length__cm_')``).

It returns ``{"<output name>": [values...], ...}``; a NaN or infinite output value is written as
JSON ``null`` (JSON has no NaN), so every response is valid JSON. A bad request never raises: ``score()``
returns ``(status, {"error": code, "message": text, "status": status})``; ``run()`` turns that into an
``AMLResponse`` with that HTTP status when it runs under the Azure ML inference server (so clients
see a 4xx, not a 500), and returns the error dict as-is otherwise.

Missing values: an input packaged to take them (``CONFIG["allow_nan"]``) takes NaN, and ``null`` as NaN;
any other input refuses NaN. Infinity is no missing value and is refused for every input, as scikit-learn
refuses it (:func:`check_finite`); a finite number beyond a float input's type (``70000`` for float16,
``1e39`` for float32) is refused as out of its range, not rounded to infinity.

Strings reach the model exactly as sent, as an object array of the parsed strings (:func:`string_array`):
numpy's text arrays drop trailing NUL characters (``"red\\x00"`` would be scored as ``"red"``).

Limits on a request, checked before anything large is built: JSON nested deeper than
:data:`MAX_JSON_DEPTH` levels is refused (400 ``too_deep``); a body holding more values than the row
limit allows (counted by its commas and brackets outside strings, for models whose inputs have fixed
non-row dimensions) is refused before parsing (413 ``too_many_values``); booleans are refused for a numeric
input when mixed with numbers (``[[true, 2, 3, 4]]``; an input sent only booleans is read as 1 and 0, as a
pandas boolean column or a numpy boolean matrix is: :func:`_boolean_column`), and numbers or
booleans for a string input even when mixed with strings (``["red", 5]``), as a list of numbers is.

JSON has one number type, and clients write 3 as ``3.0`` or ``3e0`` (JavaScript, many serializers):
an integer input takes any whole number as that integer, however it is written. ``1.5`` is refused
as a fraction, and a whole number beyond the input's type (``1e30``, ``2**63`` for int64) as out of
its range. Integers beside such floats are fed exactly as written, even past 2**53.

JSON is parsed and written with orjson when it is installed (the standard library otherwise); a body
of rows of numbers for a one-input float model is parsed by simdjson (pysimdjson) when it is installed,
straight into the input array.
``infer()`` scores arrays already built (the Open Inference Protocol route of ``server.py``) with
the same checks.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

try:  # the fast path; the standard library's json is the fallback
    import orjson as _orjson
except ImportError:  # pragma: no cover - exercised by the stdlib-fallback test
    _orjson = None  # type: ignore[assignment]
try:  # rows of numbers straight into an array, without a Python float per value
    import simdjson as _simdjson
except ImportError:  # pragma: no cover - exercised by the test that hides it
    _simdjson = None  # type: ignore[assignment]

# Filled in by onnxgate when the package is written: model file, its hash, Signature and limits.
_CONFIG_JSON = r"""__ONNXGATE_CONFIG__"""

#: Accepted numpy kinds of the parsed JSON values for each model element type ("b" bool, "i"/"u"
#: integers, "f" floats, "U" str). JSON has no float/int distinction beyond the literal, so float
#: inputs accept integer literals, and integer inputs whole numbers written as floats (3.0, 1e3: turned
#: into integers by :func:`as_integers` first), but not 1.5.
_ACCEPTED_KINDS = {
    "float16": "iuf",
    "float32": "iuf",
    "float64": "iuf",
    "int8": "iu",
    "int16": "iu",
    "int32": "iu",
    "int64": "iu",
    "uint8": "iu",
    "uint16": "iu",
    "uint32": "iu",
    "uint64": "iu",
    "bool": "b",
    "string": "UO",
}

#: Environment variable that lowers or raises the row limit written into the package.
MAX_ROWS_ENV = "ONNXGATE_MAX_ROWS"
#: Environment variable for onnxruntime's intra-op thread count (0 = onnxruntime's default).
THREADS_ENV = "ONNXGATE_INTRA_OP_THREADS"

#: Deepest JSON nesting accepted (orjson's own limit; the standard library stops near the
#: interpreter's recursion limit). A model input needs its rank + 2 levels.
MAX_JSON_DEPTH = 1024
#: Values tolerated beyond the row limit's count when the body's commas and brackets are counted (keys,
#: rows), and per input or output (a v2 request's tensor objects, their shape and parameters).
_COMMA_SLACK = 64
_SLACK_PER_TENSOR = 16

CONFIG: dict[str, Any] = {}
_session: Any = None
_max_rows = 0
# onnxruntime logs a failed run on stderr itself: a request with a value the model refuses would write
# a line to the service's log for every such request. Runs are silent; a failure that is the model's
# (a 500) is logged here instead, in one line.
_RUN_OPTIONS = ort.RunOptions()
_RUN_OPTIONS.log_severity_level = 4


class RequestError(ValueError):
    """A request the model cannot score; ``status`` is the HTTP status to answer with."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message, "status": self.status}


def _config() -> dict[str, Any]:
    if not CONFIG:
        CONFIG.update(json.loads(_CONFIG_JSON))
    return CONFIG


def _model_path() -> Path:
    cfg = _config()
    name = cfg["model_file"]
    base = os.environ.get("AZUREML_MODEL_DIR")
    if not base:
        return Path(__file__).resolve().parent / name
    root = Path(base)
    if root.is_file():
        return root
    if (root / name).is_file():
        return root / name
    # Azure ML keeps the registered folder structure: <dir>/<model name>/<version>/model.onnx or
    # <dir>/model/model.onnx. Take the shallowest match so a stray copy deeper down never wins.
    found = sorted(root.rglob(name), key=lambda p: (len(p.parts), str(p))) if root.is_dir() else []
    if not found:
        raise FileNotFoundError(
            f"AZUREML_MODEL_DIR={base!r} holds no {name!r}; register the package's {name} as the model "
            "or unset AZUREML_MODEL_DIR to load the copy next to score.py"
        )
    return found[0]


def _data_files_checked(path: Path, entries: list[dict[str, str]]) -> str | None:
    """The model's path, once each external data file holding its weights is found beside it as validated; None
    for a model held in one file (loaded from its bytes). A model above 2 GiB is loaded from its path."""
    if not entries:
        return None
    for entry in entries:
        data = path.parent / entry["file"]
        digest = hashlib.sha256()
        try:
            with open(data, "rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 24), b""):
                    digest.update(chunk)
        except OSError as err:
            raise RuntimeError(f"{str(data)!r}, which holds the weights of {str(path)!r}, cannot be read "
                               f"({err.strerror}); copy it from the package beside {path.name}") from None
        if digest.hexdigest() != entry["sha256"]:
            raise RuntimeError(
                f"{str(data)!r} is not the weights file this package was validated with: sha256 "
                f"{digest.hexdigest()} != {entry['sha256']}; re-run 'onnxgate package' for the new model"
            )
    return str(path)


def init() -> None:
    """Load the model once; called by the server before the first request."""
    global _session, _max_rows
    cfg = _config()
    path = _model_path()
    blob = path.read_bytes()
    digest = hashlib.sha256(blob).hexdigest()
    if cfg.get("model_sha256") and digest != cfg["model_sha256"]:
        raise RuntimeError(
            f"{str(path)!r} is not the model this package was validated with: sha256 {digest} != "
            f"{cfg['model_sha256']}; re-run 'onnxgate package' for the new model"
        )
    source = _data_files_checked(path, cfg.get("data_files", [])) or blob
    options = ort.SessionOptions()
    threads = int(os.environ.get(THREADS_ENV, "0") or 0)
    if threads > 0:
        options.intra_op_num_threads = threads
    _session = ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
    _max_rows = int(os.environ.get(MAX_ROWS_ENV, "") or cfg["max_rows"])


def _too_deep() -> RequestError:
    return RequestError("too_deep", f"the request JSON nests deeper than {MAX_JSON_DEPTH} levels (the limit); "
                        "send rows as nested lists as deep as the input's shape")


def _loads(raw: Any) -> Any:
    if _orjson is not None:
        try:
            return _orjson.loads(raw)
        except _orjson.JSONDecodeError as err:
            if "depth" in str(err) or "recursion" in str(err):
                raise _too_deep() from None
            # fall through: the standard library names the error (and reads the NaN literals that
            # Python's own json.dumps writes, so they reach the non-finite check below)
    if isinstance(raw, (bytes, bytearray, memoryview)):
        try:
            raw = bytes(raw).decode("utf-8")
        except UnicodeDecodeError as err:
            raise RequestError("bad_encoding", f"the request body is not UTF-8: {err}") from None
    try:
        parsed = json.loads(raw)
    except RecursionError:
        raise _too_deep() from None
    except ValueError as err:
        raise RequestError("malformed_json", f"the request body is not valid JSON: {err}") from None
    if "\\u" in raw and not _is_text(parsed):
        raise RequestError("malformed_json", _LONE_SURROGATE)
    return parsed


#: Why a body the standard library reads is still refused (orjson refuses it as invalid JSON).
_LONE_SURROGATE = ("the request body is not valid JSON: it escapes half a UTF-16 surrogate pair (\\ud800 to "
                   "\\udfff alone), which is no character; send the character itself or both halves of its pair")


def _is_text(parsed: Any) -> bool:
    """Whether every string in ``parsed`` can be written as UTF-8: the standard library reads a lone
    surrogate escape (``"\\ud800"``) into a string that onnxruntime and orjson cannot encode."""
    try:
        json.dumps(parsed, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _value_budget() -> int | None:
    """Values, lists and objects a valid request can hold at the row limit (the ``,``, ``[`` and ``{`` it
    holds outside strings), or None when that cannot be bounded (a variable dimension besides the rows)."""
    inputs = _config()["signature"]["inputs"]
    total = _COMMA_SLACK + _SLACK_PER_TENSOR * (len(inputs) + len(_config()["signature"]["outputs"]))
    for spec in inputs:
        shape = spec["shape"]
        if shape is None or not all(isinstance(d, int) for d in shape[1:]):
            return None
        dims = shape[1:]
        values, lists, nested = 1, 1 if dims else 0, 1
        for d in dims[:-1]:  # a row of [N, 3, 4] is one list of 3 lists
            nested *= d
            lists += nested
        for d in dims:
            values *= d
        # + 1: the comma between rows, or a record's object; a v2 tensor's own keys are in its slack
        total += _max_rows * (values + lists + 1) + len(shape)
    return total


#: More nested lists, or objects (keys removed), than MAX_JSON_DEPTH, written without spaces.
_TOO_DEEP_LIST = b"[" * (MAX_JSON_DEPTH + 1)
_TOO_DEEP_OBJECT = b"{:" * (MAX_JSON_DEPTH + 1)
#: A JSON string, escapes included, or an unterminated one to the end of the body. Possessive, so a
#: body of escaped quotes is scanned once, not once per quote.
_JSON_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"?', re.S)


def _structure_count(raw: bytes | str) -> int:
    """The ``,``, ``[`` and ``{`` of ``raw``: every JSON value but the first of a list or object follows a
    comma, so they bound the values parsing builds."""
    if isinstance(raw, str):
        return raw.count(",") + raw.count("[") + raw.count("{")
    return raw.count(b",") + raw.count(b"[") + raw.count(b"{")


def precheck(raw: bytes | str) -> None:
    """Refuse (413) a body holding more values than the row limit allows, before parsing it."""
    # A body of 16 MiB of "[]," parses into millions of Python lists (over 500 MB) before any row
    # count is seen; counting its commas and brackets costs microseconds and bounds that.
    budget = _value_budget()
    if budget is None:
        return
    found = _structure_count(raw)
    if found <= budget:
        return
    # Commas and brackets inside strings (text inputs, column names) build nothing: count them out, once
    # the body is known to hold no more strings than a valid request holds values (unescaped quotes, two
    # a string), so the scan costs one pass and at most that many matches. Only a body over the budget
    # pays for it.
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogatepass")
    strings = (raw.count(b'"') - raw.count(b'\\"')) // 2
    if strings > budget:
        found = strings
    else:
        skeleton = _JSON_STRING.sub(b"", raw)
        found = _structure_count(skeleton)
        if found <= budget:
            return
        if _TOO_DEEP_LIST in skeleton or _TOO_DEEP_OBJECT in skeleton:
            raise _too_deep()  # what the parser would answer, and the truer reason
    raise RequestError(
        "too_many_values",
        f"the request holds over {found} JSON values; at most {_max_rows} rows per request fit in "
        f"{budget} values; split the request",
        status=413,
    )


#: The bytes a number is written with, and whitespace: deleting them from a body of rows of numbers
#: leaves its skeleton, ``{"data":[[,,,],[,,,]]}``.
_NUMBER_BYTES = b"0123456789.eE+- \t\r\n"
#: What a body of numbers in nested lists holds besides its ``{"data": ...}`` frame: numbers,
#: separators and whitespace (no strings, booleans, null, NaN or Infinity literals).
_NUMERIC_BYTES = _NUMBER_BYTES + b",[]"
_DATA_FRAME = b'{"data":}'
#: The skeleton's bytes around its rows: ``{"data":[`` and ``]}``.
_SKELETON_FRAME = b'{"data":[]}'


def _numbers_only(raw: bytes | str) -> bool:
    """True when ``raw`` is ``{"data": ...}`` and everything in it is a number or a list (one scan)."""
    if isinstance(raw, str):
        if not raw.isascii():
            return False
        raw = raw.encode("ascii")
    return raw.translate(None, _NUMERIC_BYTES) == _DATA_FRAME


#: One simdjson parser per thread (a parser is not thread-safe; the server scores in a threadpool).
_parsers = threading.local()
#: A parser keeps the buffers of the largest body it parsed (several bytes per byte of JSON): bodies
#: up to this size reuse the thread's parser, larger ones get a parser of their own that goes with them.
_KEEP_PARSER_BYTES = 1024 * 1024


def _fast_input() -> dict[str, Any] | None:
    """The model's one input when it is a float ``[N, k]`` of fixed width ``k`` (the rows fast path)."""
    inputs = _config()["signature"]["inputs"]
    if len(inputs) != 1:
        return None
    spec: dict[str, Any] = inputs[0]
    shape = spec["shape"]
    if spec["elem_type"] not in ("float32", "float64") or shape is None or len(shape) != 2:
        return None
    return spec if isinstance(shape[1], int) and shape[1] > 0 else None


def _fast_rows(raw: bytes | str) -> dict[str, np.ndarray] | None:
    """``{"data": [[numbers], ...]}`` for a one-input float model, parsed straight into the feed.

    The body qualifies when deleting its number characters and whitespace leaves exactly the skeleton of
    ``N`` rows of ``k`` values: ``{"data":[[,,,],[,,,]]}``. That one comparison proves what the general
    path checks value by value (one input, rows of the model's width, numbers only: no strings,
    booleans, null or NaN literals), and simdjson (which rejects invalid JSON and numbers out of range)
    parses the numbers into doubles in C++, correctly rounded, as orjson and the standard library do.
    Returns None whenever the body is anything else; the general path then answers it, errors included.
    """
    spec = _fast_input() if _simdjson is not None else None
    if spec is None:
        return None
    if isinstance(raw, str):
        if not raw.isascii():
            return None
        raw = raw.encode("ascii")
    skeleton = raw.translate(None, _NUMBER_BYTES)
    precheck(skeleton)  # the same commas as the body's
    rows = skeleton.count(b"[") - 1
    width = spec["shape"][1]
    # the length first: the expected skeleton is built only when it is no longer than this one (a body of
    # "[" alone would otherwise ask for rows * (width + 2) bytes)
    if rows < 1 or len(skeleton) != len(_SKELETON_FRAME) + rows * (width + 2) - 1:
        return None
    if skeleton != _SKELETON_FRAME[:-2] + ((b"[" + b"," * (width - 1) + b"],") * rows)[:-1] + _SKELETON_FRAME[-2:]:
        return None
    parser = getattr(_parsers, "parser", None) if len(raw) <= _KEEP_PARSER_BYTES else _simdjson.Parser()
    if parser is None:
        parser = _parsers.parser = _simdjson.Parser()
    try:
        document: Any = parser.parse(raw)  # the {"data": [...]} object the skeleton proved
        flat = document["data"].as_buffer(of_type="d")
    except Exception:  # invalid JSON, a number beyond 64 bits or out of range: the general path answers it
        return None
    finally:
        document = None  # the parser refuses a new body while a document of the last one is alive
    values = np.frombuffer(flat, np.float64)
    if values.size != rows * width:
        return None
    if spec["elem_type"] == "float32" and (np.abs(values) >= _EXACT_DOUBLES).any():
        # an integer past 2**53 was rounded to a double here, and would be rounded again to float32: the
        # general path rounds it once, from the integer, as onnxruntime casts an int64
        return None
    check_rows(spec["name"], rows)  # after the parse, as the general path: invalid JSON is a 400 first
    return {spec["name"]: check_array(spec, values.reshape(rows, width))}


def _parse(raw: Any) -> tuple[dict[str, Any], bool, bool]:
    """The request object, whether it may hold booleans (checked precisely only then), and whether it
    holds numbers and lists only (the arrays are then built without a per-value type check)."""
    if isinstance(raw, (bytearray, memoryview)):
        raw = bytes(raw)
    numbers_only = False
    if isinstance(raw, (bytes, str)):
        precheck(raw)
        numbers_only = _numbers_only(raw)
        if numbers_only:
            maybe_bools = False
        elif isinstance(raw, str):
            maybe_bools = "true" in raw or "false" in raw
        else:
            maybe_bools = b"true" in raw or b"false" in raw
        raw = _loads(raw)
    else:
        maybe_bools = True
    if not isinstance(raw, dict):
        raise RequestError(
            "missing_data",
            f'expected a JSON object like {{"data": ...}}, found a {type(raw).__name__}',
        )
    if "data" not in raw:
        raise RequestError(
            "missing_data", f"the request has no 'data' key (keys: {sorted(raw)}); send {{\"data\": ...}}"
        )
    return raw, maybe_bools, numbers_only


def _records(data: list[Any]) -> dict[str, Any]:
    """Records ``[{"column": value, ...}, ...]`` as ``{"column": [values...]}``."""
    keys = list(data[0])
    for i, record in enumerate(data):
        if not isinstance(record, dict) or set(record) != set(keys):
            found = sorted(record) if isinstance(record, dict) else f"none (a {type(record).__name__})"
            raise RequestError(
                "wrong_layout",
                f"record {i} has the keys {found}, record 0 has {sorted(keys)}; every record needs the same keys",
            )
    return {k: [record[k] for record in data] for k in keys}


def _rows_by_label(data: dict[str, Any], name: str) -> list[list[Any]]:
    """Columns keyed by the labels of the data the package was written with (``CONFIG["row_columns"]``, the
    columns the one ``[N,k]`` input ``name`` takes by position: ``"0"``, ``"1"``... for ``pd.DataFrame(X)``), in
    any key order, as the input's rows: each value goes to its label's position, so a client that sorts keys
    (``"10"`` before ``"2"``) is scored as one that does not. Other keys are refused, naming the ones it takes."""
    labels = _config()["row_columns"]
    missing = [c for c in labels if c not in data]
    extra = [k for k in data if k not in labels]
    if missing or extra:
        raise RequestError(
            "unknown_input" if extra else "missing_input",
            f"the model's one input {name!r} takes the columns {labels} by position (the columns of the data it was "
            "packaged with)" + (f"; the request lacks {missing}" if missing else "")
            + (f"; the request holds {extra}, none of them" if extra else "")
            + '; send records keyed by exactly those columns, or each row as a list of their values in that order, '
            '{"data": [[...], ...]}')
    columns = [data[c] for c in labels]
    bad = next((c for c, v in zip(labels, columns) if not isinstance(v, list)), None)
    if bad is not None:
        raise RequestError("wrong_layout", f"column {bad!r}: expected a list of values, one per row, found a "
                           f"{type(data[bad]).__name__}")
    if len({len(v) for v in columns}) > 1:
        raise RequestError("wrong_layout", f"the columns {labels} hold different numbers of values "
                           f"{[len(v) for v in columns]}; send one value per row in each")
    return [list(row) for row in zip(*columns)]


def _by_column(data: dict[str, Any]) -> dict[str, Any]:
    """Keys given as the user's own column names (``"sepal length (cm)"``) renamed to input names.

    The same rule as ``onnxgate.columns.ColumnMap.renames``: every key that is an original column is
    read as one when no two keys then name one input (another key, an ID, changes nothing); otherwise
    only keys that are original columns and not input names.
    """
    pairs = _config().get("columns") or []
    if not pairs:
        return data
    by_column = {c: i for c, i in pairs}
    inputs = {i for _, i in pairs}
    renamed = {by_column.get(k, k): v for k, v in data.items()}
    if len(renamed) != len(data):
        renamed = {(by_column[k] if k in by_column and k not in inputs else k): v for k, v in data.items()}
    if len(renamed) != len(data):
        raise RequestError(
            "duplicate_input", f"the keys {sorted(data)} name some model inputs twice; send each column once"
        )
    return renamed


def _described(name: str) -> str:
    """``'sepal length (cm)' (input 'sepal_length__cm_')`` for an input fed by a column of another name,
    else the input's name: a message names what the client sent (``onnxgate.columns.ColumnMap.describe``)."""
    for column, input_name in _config().get("columns") or []:
        if input_name == name and column != name:
            return f"{column!r} (input {name!r})"
    return repr(name)


def _input_text(name: str) -> str:
    """How a message names an input: ``input 'x'``, or ``column 'x 1' (input 'x_1')`` for a renamed one."""
    described = _described(name)
    return f"input {described}" if described == repr(name) else f"column {described}"


def _by_input(data: Any) -> dict[str, Any]:
    inputs = _config()["signature"]["inputs"]
    names = [spec["name"] for spec in inputs]
    if isinstance(data, list) and data and isinstance(data[0], dict):
        data = _records(data)
    elif isinstance(data, list) and not data and len(names) > 1:
        data = {name: [] for name in names}  # no records: no rows for any input
    if isinstance(data, dict) and len(names) == 1 and names[0] not in data and _config().get("row_columns"):
        data = {names[0]: _rows_by_label(data, names[0])}
    if isinstance(data, dict):
        data = _by_column(data)
        unread = set(_config().get("unread") or ()) - set(names)
        if unread:  # a column the model was fitted with and drops (validate and score take them too)
            data = {k: v for k, v in data.items() if k not in unread}
        unknown = [k for k in data if k not in names]
        if unknown:
            fitted = inputs[0].get("fitted_columns") if len(inputs) == 1 else None
            if fitted and set(unknown) & set(fitted):
                # records keyed by the columns the model was fitted on, which the file takes as one [N,k] input:
                # the message named only 'input', not how to send those columns (helper-157)
                raise RequestError(
                    "unknown_input",
                    f"unknown input name(s) {unknown}: the model takes the columns it was fitted on, {fitted}, as "
                    f"its one input {names[0]!r}, by position in that order; send each row as a list of their "
                    f'values in that order, {{"data": [[...], ...]}} or '
                    f'{{"data": {{{json.dumps(names[0])}: [[...], ...]}}}}')
            width = inputs[0]["shape"][1] if len(inputs) == 1 and len(inputs[0]["shape"] or ()) == 2 else None
            if isinstance(width, int) and not set(names) & set(data):
                # records keyed by the labels of a frame the package was not given (pd.DataFrame(X) sends "0", "1"...)
                raise RequestError(
                    "unknown_input",
                    f"unknown input name(s) {unknown}: the model takes one input {names[0]!r} of {width} values per "
                    f"row, by position, and its package knows no column names for them; send each row as a list of "
                    f'its {width} values in the order the model was fitted on, {{"data": [[...], ...]}} '
                    f'(df.to_numpy().tolist()) or {{"data": {{{json.dumps(names[0])}: [[...], ...]}}}}')
            raise RequestError("unknown_input", f"unknown input name(s) {unknown}; the model's inputs are "
                               f"[{', '.join(map(_described, names))}]")
        missing = [n for n in names if n not in data]
        if missing:
            raise RequestError("missing_input", f"missing input(s) [{', '.join(map(_described, missing))}]; the "
                               f"model's inputs are [{', '.join(map(_described, names))}]")
        return data
    if isinstance(data, list):
        if len(names) != 1:
            raise RequestError(
                "wrong_layout",
                f"this model has {len(names)} inputs {names}: send 'data' as an object by input name, "
                '{"data": {"<input>": [...], ...}}',
            )
        return {names[0]: data}
    raise RequestError(
        "wrong_type", f"'data' must be a list of rows or an object by input name, found a {type(data).__name__}"
    )


def _shape_text(shape: list[Any]) -> str:
    return "[" + ", ".join("N" if i == 0 and not isinstance(d, int) else "?" if d is None else str(d)
                           for i, d in enumerate(shape)) + "]"


def _leaves(value: Any) -> Iterator[Any]:
    """The values in nested JSON lists, in order, without recursion (a request may nest deep)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        else:
            yield item


def _boolean_column(spec: dict[str, Any], value: Any, shape: tuple[int, ...]) -> np.ndarray | None:
    """A number input sent only booleans (and, for a float input, nulls), a column (``[N,1]`` or ``[N]``)
    or rows (``[N,k]``): as 0/1 (nulls as NaN), as onnxgate's validate, package and score read a boolean
    column or a numpy boolean matrix for a number input (a model fitted on a pandas ``boolean`` column has
    a float64 input; scikit-learn reads a boolean matrix as 0/1). Rows of booleans were refused while the
    package validated parity on those rows and ``onnxgate score`` scored them. None for anything else:
    booleans beside numbers are refused as before (``[[true, 2, 3, 4]]``: which were meant as numbers?)."""
    if spec["shape"] is None:
        return None
    nullable = spec["elem_type"].startswith("float")
    leaves = []
    for v in _leaves(value):  # one walk, stopped at the first leaf that is no boolean (numbers and nulls)
        if not (isinstance(v, bool) or (nullable and v is None)):
            return None
        leaves.append(v)
    if not any(isinstance(v, bool) for v in leaves):
        return None  # nulls only: refused as missing values, or taken as NaN where the package allows
    flat = np.array([np.nan if v is None else float(v) for v in leaves], dtype=np.float64)
    return flat.reshape(shape) if int(np.prod(shape)) == len(leaves) else flat


def _holds_bool(value: Any) -> bool:
    return any(isinstance(item, bool) for item in _leaves(value))


def check_strings(spec: dict[str, Any], values: Any) -> None:
    """Refuse a value that is not a string in ``values``, the JSON of a string input.

    numpy builds a text array from ``["red", 5]`` (``"5"``), so the array alone cannot tell; a list of
    numbers alone is refused by :func:`check_array` as it is. Raises :class:`RequestError`.
    """
    for item in _leaves(values):
        if not isinstance(item, str):
            raise _not_a_string(spec, item)


def _not_a_string(spec: dict[str, Any], item: Any) -> RequestError:
    found = ("booleans" if isinstance(item, bool) else "integers" if isinstance(item, int)
             else "numbers with a fraction" if isinstance(item, float) else "mixed or null values")
    return RequestError("wrong_element_type", f"{_input_text(spec['name'])}: expected string values, found "
                        f"{found} ({json.dumps(item)} among the strings); send every value as a JSON string")


def string_array(spec: dict[str, Any], values: Any) -> np.ndarray:
    """``values``, the parsed JSON of a string input (nested lists of strings), as an object array of those
    very strings, in the shape of the lists.

    Not ``numpy.asarray``: a text array drops trailing NUL characters, which onnxruntime keeps
    (``"red\\x00"`` is not the category ``"red"``), and gives every cell the width of the longest string
    (one long string among many short ones would cost rows x its length x 4 bytes). Raises
    :class:`RequestError` for lists of different lengths or nesting, and for a value that is not a string.
    """
    shape: list[int] = []
    probe = values
    while type(probe) is list:
        shape.append(len(probe))
        if not probe:
            break
        probe = probe[0]
    level = [values]
    for size in shape:  # each level's lists, all of one length, then their items
        if set(map(type, level)) != {list} or set(map(len, level)) != {size}:
            level = []
            break
        level = list(itertools.chain.from_iterable(level))
    else:
        kinds = set(map(type, level))
        missing = spec.get("missing")
        if missing is not None and type(None) in kinds and kinds <= {str, type(None)}:
            # a text input the model reads a missing value in (a HistGradientBoosting category): null as the
            # text it reads as missing, as onnxgate validate and score feed it
            level = [missing if item is None else item for item in level]
            kinds = {str}
        if kinds <= {str}:
            out = np.empty(len(level), dtype=object)
            out[:] = level
            return out.reshape(shape)
        if list not in kinds and str in kinds:
            raise _not_a_string(spec, next(item for item in level if type(item) is not str))
        if list not in kinds:  # numbers, booleans, null: named as check_array names them
            try:
                kind = np.asarray(level).dtype.kind
            except (ValueError, OverflowError):
                kind = "O"
            raise RequestError("wrong_element_type", f"{_input_text(spec['name'])}: expected string values, "
                               f"found {_FOUND.get(kind, 'mixed or null values')}")
    shape_text = _shape_text(spec["shape"]) if spec["shape"] is not None else "?"
    raise RequestError("wrong_shape", f"{_input_text(spec['name'])}: rows have different lengths or nesting; "
                       f"expected shape {shape_text}")


_FOUND = {"b": "booleans", "i": "integers", "u": "integers", "f": "numbers with a fraction",
          "U": "strings", "S": "bytes", "O": "mixed or null values"}


def _rows_of_numbers(spec: dict[str, Any], value: list[Any]) -> np.ndarray | None:
    """``value`` as an ``[N,k]`` float array in one pass, for a float input of fixed width ``k`` fed rows
    of numbers; None when the rows are not that (the general path then names what is wrong).

    Only for a body that :func:`_numbers_only` cleared: every value is then a number or a list, so
    building the array straight in the model's type accepts nothing the general path would refuse.
    """
    shape = spec["shape"]
    if spec["elem_type"] not in ("float32", "float64") or shape is None or len(shape) != 2:
        return None
    width = shape[1]
    try:
        if not isinstance(width, int) or set(map(len, value)) != {width}:
            return None
        flat = np.fromiter(itertools.chain.from_iterable(value), np.float64, len(value) * width)
    except (TypeError, ValueError, OverflowError):  # a number where a row goes, a list where a number goes
        return None
    if spec["elem_type"] == "float32" and (np.abs(flat) >= _EXACT_DOUBLES).any():
        return None  # an integer past 2**53, rounded to a double: the general path rounds it once
    return flat.reshape(len(value), width)  # check_array casts it, and names a value beyond float32's range


# category_codes() and check_known_numbers(): the one mapping of category values to codes, and check of integer
# category values, onnxgate's own feeds use (onnxgate/_category_codes.py), written in here when the package is written.
# @CATEGORY_CODES@


def category_values(spec: dict[str, Any], value: Any) -> Any:
    """``value``, the parsed JSON for an input that reads the codes of category columns (``spec["codes"]``: each
    column's position with the model's categories), with each category value (``"red"``, ``7``) and null in such
    a column as its code (-1 for null, which the model reads as missing), as onnxgate validate and score feed a
    pandas category column; a number is the category of that value where the categories are numbers, else a
    code (0..k-1), which stays a code. Any other input or value is returned as it is.
    Raises :class:`RequestError` for a value that is none of the categories (unless the model reads one as
    missing), saying what to send."""
    if spec.get("categories") and isinstance(value, list):
        # LightGBM's integer categories, read by value: a number none of them is refused (helper-233)
        numbers = list(itertools.chain.from_iterable(v if isinstance(v, list) else [v] for v in value))
        try:
            check_known_numbers(numbers, spec["categories"], spec.get("missing"))  # type: ignore[name-defined]  # noqa: F821
        except ValueError as err:
            raise RequestError("unknown_category", f"{_input_text(spec['name'])}: {err}") from None
        return value
    codes = spec.get("codes")
    if not codes or not isinstance(value, list) or not spec["elem_type"].startswith(("int", "float")):
        return value
    try:
        arr = np.array(value, dtype=object)
    except (ValueError, TypeError, RecursionError):
        return value  # ragged: _array names it
    flat = arr.ndim == 1
    if flat:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2 or not arr.size:
        return value
    floats = spec["elem_type"].startswith("float")
    for position, categories in codes:
        if position >= arr.shape[1]:
            continue
        column = arr[:, position].tolist()
        # number categories (months 1..12) take numbers by value only, as every route reads them (helper-233)
        numbered = categories is not None and any(type(c) in (int, float) for c in categories)
        if not numbered and all(type(v) is int and (categories is None or -1 <= v < len(categories))
                                for v in column) and not (spec.get("missing_refused") and -1 in column):
            continue  # the codes themselves (a -1 where the model refuses a missing value is refused below)
        where = f" (column {position})" if arr.shape[1] > 1 else ""
        if categories is None:
            if any(isinstance(v, str) for v in column):
                raise RequestError("wrong_element_type", f"{_input_text(spec['name'])}{where}: reads category codes "
                                   "and the model did not record its categories, so a category's code is unknown "
                                   "here: send the codes (each value's position among the categories the model "
                                   "was fitted on), and -1 for a missing value")
            found = [-1 if v is None else v for v in column]
        else:
            try:
                found = category_codes(column, categories, bool(spec.get("unseen_missing")), True,  # type: ignore[name-defined]  # noqa: F821
                                       bool(spec.get("missing_refused")), bool(spec.get("missing_learnt"))).tolist()
            except ValueError as err:
                raise RequestError("unknown_category", f"{_input_text(spec['name'])}{where}: {err}") from None
        arr[:, position] = [None if floats and c < 0 else c for c in found]
    return arr[:, 0].tolist() if flat else arr.tolist()


def _array(spec: dict[str, Any], value: Any, maybe_bools: bool = True, numbers_only: bool = False) -> np.ndarray:
    name, elem = spec["name"], spec["elem_type"]
    if not isinstance(value, list):
        raise RequestError("wrong_type",
                           f"{_input_text(name)}: expected a list of rows, found a {type(value).__name__}")
    if len(value) == 0:
        empty = empty_rows(spec)
        if empty is None:
            shape = _shape_text(spec["shape"]) if spec["shape"] is not None else "?"
            raise RequestError("empty_data", f"{_input_text(name)}: no rows, and its shape {shape} has a size only a "
                               "row tells; send at least one row")
        return empty
    if len(value) > _max_rows:
        _check_nesting(spec, value)  # rows sent flat are refused for their shape, not as too many rows
    check_rows(name, len(value))
    if elem == "string":
        return check_array(spec, string_array(spec, value))
    value = category_values(spec, value)
    if numbers_only:
        fast = _rows_of_numbers(spec, value)
        if fast is not None:
            return check_array(spec, fast)
    if elem == "int64" and spec.get("missing") is not None:
        # an integer category column the model reads a missing value in (LightGBM): null as the integer none of
        # its categories that onnxgate validate and score feed for it
        value = _nulls_as(value, int(spec["missing"]))
    try:
        arr = np.asarray(value)
    except OverflowError:
        raise RequestError("wrong_element_type", f"{_input_text(name)}: a value is out of the {elem} range") from None
    except (ValueError, RecursionError):
        shape = spec["shape"]
        raise RequestError(
            "wrong_shape", f"{_input_text(name)}: rows have different lengths or nesting; expected shape "
            f"{_shape_text(shape) if shape is not None else '?'}"
        ) from None
    if maybe_bools and arr.dtype.kind in "bO" and elem.startswith(("float", "int", "uint")):
        column = _boolean_column(spec, value, arr.shape)
        if column is not None:
            return check_array(spec, column)
    if maybe_bools and elem != "bool" and arr.dtype.kind in "iuf" and _holds_bool(value):
        raise RequestError("wrong_element_type", f"{_input_text(name)}: expected {elem} values, found booleans")
    if arr.dtype.kind == "O":
        arr = nulls_as_nan(spec, value, arr)
    return check_array(spec, as_integers(spec, arr, value))


def _nulls_as(value: Any, missing: int) -> Any:
    """``value``, nested lists of the JSON, with each null replaced by ``missing``."""
    if type(value) is list:
        return [_nulls_as(item, missing) for item in value]
    return missing if value is None else value


def nulls_as_nan(spec: dict[str, Any], value: Any, arr: np.ndarray) -> np.ndarray:
    """Numbers and JSON nulls for a float input packaged to take missing values: the nulls as NaN (JSON
    has no NaN, and this script writes a NaN output as null). ``arr`` is ``value``, the parsed JSON, as
    numpy built it (dtype object, for the nulls). Any other input or value is returned as it is, for
    :func:`check_array` to name."""
    if arr.dtype.kind != "O" or not spec["elem_type"].startswith("float") or spec["name"] not in _config()["allow_nan"]:
        return arr
    if any(item is not None and (isinstance(item, bool) or not isinstance(item, (int, float)))
           for item in _leaves(value)):
        return arr
    try:
        return np.array(value, dtype=np.float64)
    except (ValueError, TypeError, OverflowError):
        return arr


#: Below this size a double holds every integer exactly: a float array of whole numbers under it holds
#: the very integers the JSON wrote, whether as 3 or as 3.0.
_EXACT_DOUBLES = 2.0**53


def as_integers(spec: dict[str, Any], arr: np.ndarray, values: Any = None) -> np.ndarray:
    """``arr`` in an integer input's type when JSON numbers made it floats (``3.0``, ``1e3``, or an integer
    beside one) or Python numbers numpy could not fit in one type (integers past 64 bits): the whole
    numbers as those integers. Any other array, or any other input, is returned as it is.

    ``values``, the parsed JSON ``arr`` was built from, gives back the integers the client wrote when a
    value is past 2**53, where the float array may have rounded them (``[1.0, 2**63 - 1]``). Raises
    :class:`RequestError` for a fraction or NaN, and for a whole number beyond the input's type.
    """
    name, elem = spec["name"], spec["elem_type"]
    if arr.dtype.kind not in "fO" or not elem.startswith(("int", "uint")):
        return arr
    if not arr.size:  # no values (a batch of no rows), which JSON's [] makes a float array of
        return arr.astype(elem)
    items: list[Any] | None = None
    if arr.dtype.kind == "O":
        items = arr.ravel().tolist()
        if not all(type(v) is int or type(v) is float for v in items):
            return arr  # null, strings, booleans, lists: check_array names them
        floats = np.array([v if type(v) is float else 0.0 for v in items])
    else:
        floats = arr
    with np.errstate(invalid="ignore"):
        whole = np.trunc(floats) == floats  # False for a fraction and NaN, True for infinity
    if not whole.all():
        found = "numbers with a fraction" if np.isfinite(floats[~whole]).any() else "NaN"
        raise RequestError("wrong_element_type", f"{_input_text(name)}: expected {elem} values, found {found}")
    info = np.iinfo(elem)
    # The doubles within the type: float(info.max) + 1 is the first double past it (2**63 for int64, so
    # no rounding at the top). orjson reads an integer past 64 bits as a double, and -2**63 - 1 arrives
    # as the double -2**63: for int64 a double at the lowest value counts as beyond it.
    lowest, above, strict = float(info.min), float(info.max) + 1, elem == "int64"

    def within(v: float) -> bool:
        return (v > lowest if strict else v >= lowest) and v < above

    def out_of_range() -> RequestError:
        return RequestError("wrong_element_type", f"{_input_text(name)}: a value is out of the {elem} range")

    if items is None:
        if float(np.abs(arr).max()) < _EXACT_DOUBLES:
            if not (within(float(arr.min())) and within(float(arr.max()))):
                raise out_of_range()
            return arr.astype(elem)
        parsed = np.asarray(values, dtype=object).ravel().tolist() if values is not None else []
        # the numbers as parsed (integers exact), or the doubles, which may have rounded what was written
        items = parsed if len(parsed) == arr.size and all(type(v) is int or type(v) is float for v in parsed) \
            else arr.ravel().tolist()
    low, high = int(info.min), int(info.max)
    # Python compares ints and floats exactly
    if not all(low <= v <= high if type(v) is int else within(v) for v in items):
        raise out_of_range()
    inexact = next((v for v in items if type(v) is float and abs(v) >= _EXACT_DOUBLES), None)
    if inexact is not None:
        # 9007199254740993.0 parses to the double 9007199254740992.0, as 9007199254740992.0 does: which
        # integer was written is lost, so none is guessed (1e18 too, which 1000000000000000001.0 also reads as)
        raise RequestError(
            "wrong_element_type",
            f"{_input_text(name)}: a number past 2**53 written with a fraction or an exponent (read as "
            f"{inexact:.6g}): a JSON number read as a double does not hold every integer there, so which one was "
            f"meant is not known; write {elem} values past 2**53 as integers (9007199254740993, not "
            "9007199254740993.0 or 9.007199254740993e15)")
    return np.array([int(v) for v in items], dtype=elem).reshape(arr.shape)


def _check_nesting(spec: dict[str, Any], value: list[Any]) -> None:
    """Refuse ``value``, an input's JSON list, whose nesting (read along its first elements) has not the rank of
    the input's shape: an image model's ``[N, 28, 28, 1]`` rows sent as one flat list of pixels were refused 413 for
    too many rows, which sent the client to split a request whose shape was the fault."""
    shape = spec["shape"]
    if shape is None:
        return
    found = [len(value)]
    item = value[0]
    while isinstance(item, list) and len(found) <= len(shape):
        found.append(len(item))
        item = item[0] if item else None
    if len(found) != len(shape) and not (len(found) == 1 and len(shape) == 2 and shape[1] == 1):
        raise RequestError(
            "wrong_shape",
            f"{_input_text(spec['name'])}: expected {len(shape)}-d data of shape {_shape_text(shape)} (N = rows), "
            f"found {len(found)}-d data of shape {found}",
        )


def check_rows(name: str, rows: int) -> None:
    """Refuse (413) more rows than the row limit for the input ``name``."""
    if rows > _max_rows:
        raise RequestError(
            "too_many_rows",
            f"{_input_text(name)}: {rows} rows is over the limit of {_max_rows} per request; split the request",
            status=413,
        )


def check_array(spec: dict[str, Any], arr: np.ndarray) -> np.ndarray:
    """Check one input array against its Signature entry; returns it in the model's element type.

    The kind of the values (JSON gives integers, floats, booleans or strings; an integer input takes
    whole numbers written as floats, see :func:`as_integers`), the shape (a flat list is accepted for
    an ``[N,1]`` column), the row limit and NaN and infinity (:func:`check_finite`). Raises
    :class:`RequestError`.
    """
    if _session is None:
        init()
    arr = as_integers(spec, arr)
    name, elem, shape = spec["name"], spec["elem_type"], spec["shape"]
    kinds = _ACCEPTED_KINDS.get(elem, "")
    if arr.dtype.kind not in kinds:
        found = _FOUND.get(arr.dtype.kind, str(arr.dtype))
        if arr.dtype.kind == "O" and elem.startswith("float") and any(v is None for v in arr.reshape(-1).tolist()):
            # a null for a float input the package does not let take missing values
            found = ("null (a missing value), which this package refuses for this input: package the model "
                     "with the option allow_nan (onnxgate package ... --option allow_nan=true) if it takes missing "
                     "values there")
        elif arr.dtype.kind == "O" and (elem == "bool" or elem[0] in "iu") and any(
                v is None for v in arr.reshape(-1).tolist()):
            # a null for a boolean or integer input: "mixed or null values" did not say which (helper-154)
            found = (f"null (a missing value), which a {elem} input cannot hold (the model was converted from "
                     "data holding none there): fill or drop those values")
        elif arr.dtype.kind == "O" and elem[0] in "fiu" and any(
                type(v) is int and abs(v) >= 2 ** 64 for v in arr.reshape(-1).tolist()):
            # numpy holds an integer beyond 64 bits (10**400) as an object: a number, out of any range
            found = "an integer beyond the range of any number type (such as 10**400); send a value in range"
        raise RequestError("wrong_element_type", f"{_input_text(name)}: expected {elem} values, found {found}")
    if arr.ndim == 0:
        raise RequestError("wrong_shape", f"{_input_text(name)}: expected rows, found a single value")
    if shape is not None:
        if arr.ndim == 1 and len(shape) == 2 and shape[1] == 1:
            # A column input ([N,1]) sent as a flat list of its values: one value per row, unambiguous.
            arr = arr.reshape(-1, 1)
        if arr.ndim != len(shape):
            raise RequestError(
                "wrong_shape",
                f"{_input_text(name)}: expected {len(shape)}-d data of shape {_shape_text(shape)} (N = rows), "
                f"found {arr.ndim}-d data of shape {list(arr.shape)}",
            )
        for axis, (want, got) in enumerate(zip(shape, arr.shape)):
            if isinstance(want, int) and want != got:
                code = "wrong_row_width" if axis == 1 and len(shape) == 2 else "wrong_shape"
                raise RequestError(
                    code,
                    f"{_input_text(name)}: expected {want} values on axis {axis} (shape {_shape_text(shape)}), "
                    f"found {got}",
                )
    # after the shape: an image model's rows sent flat were refused 413 for too many rows, not for their shape
    check_rows(name, int(arr.shape[0]))
    if elem == "string":
        if arr.dtype.kind != "O":
            return arr.astype(object)
        if not set(map(type, arr.ravel().tolist())) <= {str}:
            raise RequestError("wrong_element_type", f"{_input_text(name)}: expected string values, found mixed or "
                               "null values")
        return arr
    dtype = np.dtype(elem)
    if arr.dtype.kind in "iu" and dtype.kind in "iu" and arr.dtype != dtype:
        info = np.iinfo(dtype)
        if arr.size and (arr.min() < info.min or arr.max() > info.max):
            raise RequestError("wrong_element_type", f"{_input_text(name)}: a value is out of the {elem} range")
    with np.errstate(over="ignore"):  # a double beyond float32's range becomes inf: the check below names it
        out = arr.astype(dtype, copy=False)
    if dtype.kind == "f":
        try:
            check_finite(name, out)
        except RequestError as err:
            beyond = _beyond_float_range(spec, arr, out) if out is not arr and arr.dtype.kind in "iuf" else None
            raise beyond or err from None
    return out


def _beyond_float_range(spec: dict[str, Any], arr: np.ndarray, out: np.ndarray) -> RequestError | None:
    """The error for a finite value of ``arr`` that became infinity in ``out``, its cast to the input's
    float type: a number beyond that type (70000 for float16), which is no missing value. None if none did."""
    with np.errstate(invalid="ignore"):
        beyond = np.isinf(out) & np.isfinite(arr)
    if not beyond.any():
        return None
    at = tuple(np.argwhere(beyond)[0])
    elem = spec["elem_type"]
    return RequestError(
        "wrong_element_type", f"{_input_text(spec['name'])}: a value is out of the {elem} range "
        f"({arr[at].item():g} in row {at[0]}; its largest is {float(np.finfo(elem).max):g}): send values within it",
    )


def check_finite(name: str, arr: np.ndarray) -> None:
    """Refuse NaN in a float input unless the package takes it there, and infinity in every float input.

    NaN is a missing value: an input packaged to take missing values (``CONFIG["allow_nan"]``: the inputs
    an imputer reads, those the parity data held NaN in, or those named when packaging) takes it, any
    other refuses it. Infinity is no missing value: an imputer passes it on, and a model that does
    arithmetic on it gives NaN scores (a class label argmax'ed from NaN probabilities), where
    scikit-learn refuses the row. So it is refused for every input. Raises :class:`RequestError` naming
    the input and the first offending row.
    """
    takes_nan = name in _config()["allow_nan"]
    bad = np.isinf(arr) if takes_nan else ~np.isfinite(arr)
    if not bad.any():
        return
    row = int(np.argwhere(bad)[0][0])
    if takes_nan:
        raise RequestError(
            "non_finite",
            f"{_input_text(name)}: infinity in row {row} (a number beyond float64's range, such as 1e400, reads "
            "as infinity); this model takes NaN (null) as a missing value here, never infinity: send a finite "
            "value, or null for a missing one",
        )
    raise RequestError(
        "non_finite",
        f"{_input_text(name)}: NaN or infinity in row {row}; this model was packaged to reject missing values "
        "(a number beyond float64's range, such as 1e400, reads as infinity; package with the option allow_nan "
        "if the model takes missing values there)",
    )


def feeds_for(payload: Any) -> dict[str, np.ndarray]:
    """Parse and check a request; returns the arrays to feed, or raises RequestError."""
    if _session is None:
        init()
    if isinstance(payload, (bytes, str)):
        fast = _fast_rows(payload)
        if fast is not None:
            return fast
    request, maybe_bools, numbers_only = _parse(payload)
    values = _by_input(request["data"])
    feeds = {spec["name"]: _array(spec, values[spec["name"]], maybe_bools, numbers_only)
             for spec in _config()["signature"]["inputs"]}
    check_rows_agree(feeds)
    return feeds


def check_rows_agree(feeds: dict[str, np.ndarray]) -> None:
    """Every input must hold the same number of rows."""
    rows = {name: int(arr.shape[0]) for name, arr in feeds.items() if arr.ndim}
    if len(set(rows.values())) > 1:
        raise RequestError("row_count_mismatch", f"inputs have different numbers of rows: {rows}")


def empty_rows(spec: dict[str, Any], output: bool = False) -> np.ndarray | None:
    """An array of no rows for a Signature entry: shape ``(0, *its other sizes)`` in its element type.

    None when the entry has no batch axis (no shape, or a fixed first size), or, for an input, when one
    of its other sizes is not fixed (only a row would tell it); an output's unknown sizes are 0, since
    it holds no values either way.
    """
    shape = spec.get("shape")
    if not shape or isinstance(shape[0], int):
        return None
    if not output and not all(isinstance(d, int) for d in shape[1:]):
        return None
    sizes = tuple(d if isinstance(d, int) else 0 for d in shape[1:])
    dtype = np.dtype(object) if spec["elem_type"] == "string" else np.dtype(spec["elem_type"])
    return np.empty((0, *sizes), dtype=dtype)


def _no_rows(feeds: dict[str, np.ndarray]) -> bool:
    return any(arr.ndim and arr.shape[0] == 0 for arr in feeds.values())


def _empty_outputs(outputs: list[str] | None) -> list[np.ndarray]:
    """The outputs for a batch of no rows, without running the model: every output has a row per input row
    (the container's checks confirm it), so none has any; onnxruntime refuses some operators on 0 rows."""
    specs = {spec["name"]: spec for spec in _config()["signature"]["outputs"]}
    names = outputs if outputs is not None else list(specs)
    return [empty_rows(specs[name], output=True) for name in names]  # type: ignore[misc]


def infer(feeds: dict[str, np.ndarray], outputs: list[str] | None = None) -> list[np.ndarray]:
    """Run the model on checked arrays; ``outputs`` (names) defaults to every output, in order."""
    if _session is None:
        init()
    if _no_rows(feeds):
        return _empty_outputs(outputs)
    try:
        return list(_session.run(outputs, feeds, _RUN_OPTIONS))
    except Exception as err:
        if not _refused_values(err):
            log_failure(err)
        raise


def _refused_values(err: Exception) -> bool:
    """onnxruntime's INVALID_ARGUMENT: a kernel refused the values of checked rows (the client's to change)."""
    kind = type(err)
    return kind.__name__ == "InvalidArgument" and kind.__module__.startswith("onnxruntime.")


def log_failure(err: BaseException) -> None:
    """One line on stderr for a run that failed through no fault of the request (answered with a 500)."""
    first = str(err).strip().splitlines()[0] if str(err).strip() else ""
    print(f"score.py: onnxruntime failed: {type(err).__name__}: {first}", file=sys.stderr, flush=True)


def _jsonable(value: Any) -> Any:
    if not isinstance(value, np.ndarray):
        return value.tolist() if hasattr(value, "tolist") else value
    if value.dtype.kind == "f" and not np.isfinite(value).all():
        # JSON has no NaN or infinity: such values are written as null.
        cells = value.astype(object)
        cells[~np.isfinite(value)] = None
        return cells.tolist()
    return value.tolist()


def _outputs(feeds: dict[str, np.ndarray]) -> tuple[int, dict[str, Any]]:
    names = [spec["name"] for spec in _config()["signature"]["outputs"]]
    if _no_rows(feeds):
        return 200, dict(zip(names, _empty_outputs(None)))
    try:
        results = _session.run(None, feeds, _RUN_OPTIONS)
    except Exception as err:
        if _refused_values(err):
            # the rows passed the signature's checks, so a kernel refused a value (an index past a
            # table): the client's to change, as the server's v2 route answers it
            return 400, {"error": "invalid_values", "message": f"the model cannot score these values (onnxruntime: "
                         f"{err}); their types and shapes are the model's, so a value is outside what it accepts: "
                         "change it", "status": 400}
        # any other onnxruntime failure on checked input is the model's fault: 500, no trace
        log_failure(err)
        return 500, {"error": "inference_failed", "message": f"onnxruntime failed: {err}", "status": 500}
    return 200, dict(zip(names, results))


def score(raw: Any) -> tuple[int, dict[str, Any]]:
    """Score one request: ``(200, {output: values})`` or ``(4xx, {"error", "message", "status"})``."""
    if _session is None:
        init()
    try:
        feeds = feeds_for(raw)
    except RequestError as err:
        return err.status, err.body()
    status, body = _outputs(feeds)
    if status == 200:
        body = {name: _jsonable(value) for name, value in body.items()}
    return status, body


def dumps(payload: dict[str, Any]) -> bytes:
    """JSON bytes of a response; numpy arrays written directly, NaN and infinity as ``null``."""
    if _orjson is not None:
        try:
            return _orjson.dumps(payload, option=_orjson.OPT_SERIALIZE_NUMPY)
        except TypeError:  # a string or non-contiguous array: the lists below
            pass
    return json.dumps({k: _jsonable(v) for k, v in payload.items()}, allow_nan=False).encode()


def score_bytes(raw: Any) -> tuple[int, bytes]:
    """Score one request into the JSON bytes to send: what ``server.py`` answers ``POST /score`` with."""
    if _session is None:
        init()
    try:
        feeds = feeds_for(raw)
    except RequestError as err:
        return err.status, dumps(err.body())
    status, body = _outputs(feeds)
    return status, dumps(body)


def _error_response(status: int, body: dict[str, Any]) -> Any:
    # Under the Azure ML inference server a returned flask Response keeps its status; a plain dict
    # would be sent as 200 and an exception as a generic 500. Only look for it when the server is
    # running us, so importing this file elsewhere never pulls in flask.
    if "azureml_inference_server_http" in sys.modules:
        try:
            from azureml_inference_server_http.api.aml_response import AMLResponse
        except ImportError:
            return body
        return AMLResponse(body, status, json_str=True)
    return body


def run(raw_data: Any) -> Any:
    """Azure ML entry point: the request body in, a JSON-serialisable result (or an error) out."""
    status, body = score(raw_data)
    if status == 200:
        return body
    return _error_response(status, body)


__all__ = ["CONFIG", "MAX_JSON_DEPTH", "RequestError", "check_array", "check_finite", "check_rows", "check_rows_agree",
           "check_strings", "dumps", "feeds_for", "infer", "init", "nulls_as_nan", "precheck", "run", "score",
           "score_bytes", "string_array"]
