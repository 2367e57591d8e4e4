"""Small helpers around the onnx package: safe loading, opset and IR bookkeeping, atomic writes."""

from __future__ import annotations

import contextvars
import errno
import functools
import numbers
import os
import re
import shutil
import stat
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from onnxgate.errors import InvalidModelError, OnnxGateError, OutputExistsError

if TYPE_CHECKING:
    import onnx

__all__ = [
    "DEFAULT_DOMAIN",
    "FLOAT32_INSIDE_KEY",
    "FUNCTIONS_IR_VERSION",
    "ML_DOMAIN",
    "REFUSE_DOUBLE_WHEN_RUN",
    "MissingKernel",
    "ModelTooLargeError",
    "all_graphs",
    "atomic_write",
    "atomic_write_bytes",
    "check_model",
    "check_model_kind",
    "check_opset_number",
    "clean_stale_partials",
    "constant_tensors",
    "cpu_kernel_types",
    "densify_sparse_initializers",
    "infer_shapes_strict",
    "ir_version_for_opset",
    "list_initializers",
    "load_error",
    "load_model",
    "load_model_and_data_files",
    "loaded_once",
    "missing_kernel",
    "missing_kernels",
    "ml_opset_for",
    "model_name",
    "model_opsets",
    "node_subgraphs",
    "onnx_type_name",
    "repair_layout",
    "runnable",
    "serialize",
    "serialized_once",
    "sha256_of",
    "since_version",
    "sparse_initializer_names",
    "tree_skeleton",
    "types_inferred",
    "value_types",
    "weights_by_path",
    "weights_left_in_files",
    "weights_path",
]

DEFAULT_DOMAIN = ""
#: ``metadata_props`` key a converter sets when a double graph computes part of its answer in float32
#: (tree ensembles): its float64 outputs carry float32 rounding, and parity's defaults are float32's.
FLOAT32_INSIDE_KEY = "onnxgate.float32_inside"
ML_DOMAIN = "ai.onnx.ml"
#: The IR version that brought model-local functions (``ModelProto.functions``, onnx 1.10; onnxruntime reads them
#: from 1.9): a runtime reading older files ignores them and finds no operator for the nodes that call them.
FUNCTIONS_IR_VERSION = 8

ModelLike = Any  # onnx.ModelProto | str | os.PathLike | bytes | Conversion


@functools.cache
def _version_rows() -> tuple[tuple[int, int, int], ...]:
    """(ir_version, ai.onnx opset, ai.onnx.ml opset) for each onnx release, oldest first."""
    from onnx import helper

    rows = []
    for row in helper.VERSION_TABLE:
        _release, ir, opset, ml = row[:4]
        rows.append((int(ir), int(opset), int(ml) if ml is not None else 0))
    return tuple(rows)


def ir_version_for_opset(opset: int) -> int:
    """The lowest IR version of the first onnx release that defines default-domain ``opset``.

    An opset-12 model stamped IR 7 loads in onnxruntime 1.5; the same graph stamped IR 10 does not.
    """
    for ir, op, _ml in _version_rows():
        if op >= opset:
            return ir
    raise ValueError(f"opset {opset} is newer than the installed onnx package knows")


def ml_opset_for(opset: int) -> int:
    """The ai.onnx.ml opset released together with default-domain ``opset`` (12 -> 2, 17 -> 3)."""
    for _ir, op, ml in _version_rows():
        if op >= opset:
            return max(ml, 1)
    return max(row[2] for row in _version_rows())


def newest_opset() -> int:
    from onnx import defs

    return int(defs.onnx_opset_version())


def check_opset_number(opset: Any, **extra: Any) -> None:
    """Refuse an opset that is not a whole number from 1 to :func:`newest_opset`, before anything is loaded:
    ``convert --opset 999`` read the model first and was refused 8-14 s later (helper-190). ``extra``: fields
    of the :class:`~onnxgate.errors.OpsetError` (``framework``, ``max_opset``).

    Raises
    ------
    OpsetError
        ``opset`` is not an integer, or outside 1..the newest opset the installed onnx knows.
    """
    from onnxgate.errors import OpsetError

    if isinstance(opset, bool) or not isinstance(opset, numbers.Integral):  # numpy's integers are opsets too
        raise OpsetError(f"opset must be an integer, found {opset!r}; give a whole number such as 17", **extra)
    opset = int(opset)
    newest = newest_opset()
    if opset < 1 or opset > newest:
        raise OpsetError(f"opset must be between 1 and {newest} (the newest the installed onnx knows), found {opset}; "
                         f"give one in that range, or leave it out for the default", opset=opset, **extra)


#: ``metadata_props`` key: the most values one row makes in a single tensor of the graph, written by a converter
#: that knows the graph computes wide rows dense (a HashingVectorizer's ``n_features``, a text vectorizer's
#: vocabulary; scikit-learn keeps them sparse). Batches of rows are sized by it (:func:`rows_per_batch`).
ROW_WIDTH_METADATA_KEY = "onnxgate.row_width"
#: Bytes the widest tensor of one batch may take (:func:`rows_per_batch`): a HashingVectorizer's default 2**20
#: columns dense are 4 MiB a row, and validate's 16,384-row batches would have asked onnxruntime for 64 GB.
BATCH_BYTES = 256 * 2**20


def rows_per_batch(proto: onnx.ModelProto, default: int) -> int:
    """``default`` rows per batch, fewer for a graph recorded as computing wide rows (:data:`ROW_WIDTH_METADATA_KEY`):
    as many as keep its widest tensor (4-byte values) within :data:`BATCH_BYTES`, and at least 1."""
    width = next((p.value for p in proto.metadata_props if p.key == ROW_WIDTH_METADATA_KEY), None)
    return rows_for_width(width, default)


def rows_for_width(width: str | None, default: int) -> int:
    """:func:`rows_per_batch` from the recorded width (the metadata's text, or None when there is none)."""
    try:
        values = int(width) if width is not None else 0
    except ValueError:
        values = 0
    return max(1, min(default, BATCH_BYTES // (4 * values))) if values > 0 else default


def canonical_domain(name: str) -> str:
    """``""`` for the default domain, however it is spelled (``""`` or ``"ai.onnx"``)."""
    return "" if name in ("", "ai.onnx") else name


def holds_type(model: onnx.ModelProto, data_type: int) -> bool:
    """Whether ``model``'s main graph holds a tensor of ``data_type`` (a ``TensorProto`` code): an input, output,
    weight or typed value, or a Cast to it (a float64 file onnxruntime may lack kernels for, a bfloat16 one)."""
    graph = model.graph
    return (any(i.data_type == data_type for i in graph.initializer)
            or any(v.type.tensor_type.elem_type == data_type for v in (*graph.input, *graph.output, *graph.value_info))
            or any(a.name == "to" and a.i == data_type for n in graph.node if n.op_type == "Cast" for a in n.attribute))


def model_opsets(model: onnx.ModelProto) -> dict[str, int]:
    """Opset per domain as stamped in the model (``""`` for ai.onnx)."""
    result: dict[str, int] = {}
    for entry in model.opset_import:
        domain = canonical_domain(entry.domain)
        result[domain] = max(result.get(domain, 0), int(entry.version))
    return result


class ModelTooLargeError(ValueError):
    """:func:`check_model` given ``size_limit``: the model serializes to ``size`` bytes, above the limit."""

    def __init__(self, size: int) -> None:
        super().__init__(f"the model is {size:,} bytes")
        self.size = size


def check_model(proto: onnx.ModelProto, *, size_limit: int | None = None) -> None:
    """The ONNX checker on ``proto``, in milliseconds less per megabyte of trees: a model holding
    ai.onnx.ml tree ensembles of more than :data:`_CHECKED_WHOLE_NODES` tree nodes (a 1,000-tree CatBoost model
    is 5.5 MB of tree lists) is checked as its :func:`tree_skeleton` (the whole model, the trees' lists left out),
    and each tree node's attributes against its operator's schema here (:func:`tree_attribute_problem`), which is
    what the checker verifies of them. Serialising and checking the whole file took 9 ms of a 25 ms conversion. A
    smaller tree model is checked whole, as a model without trees is: the checker reads its lists in less time than
    the skeleton takes to build; when the checker refuses it, the skeleton's check says which tree attribute is
    wrong, as it did for every tree model (the checker's own refusal is raised where that check finds nothing).

    ``size_limit``: refuse a model that serializes to more bytes, before checking it, with the model serialized
    once for both: a model checked whole is checked as its bytes, whose length is its size; a tree model's size is
    bounded by its skeleton's bytes plus its lists counted (:func:`_tree_attributes`), and measured whole
    (``ByteSize``, one more serialization) only when that bound is above the limit or the model is small.
    ``ByteSize`` beside the checker took 34 ms of a 107 ms conversion of a 1,000-tree CatBoost model.

    Raises
    ------
    ModelTooLargeError
        ``size_limit`` is given and the model is larger.
    onnx.checker.ValidationError
        As ``onnx.checker.check_model``.
    """
    import onnx

    trees = [n for n in proto.graph.node if _is_tree_ensemble(n)]
    if not trees:
        _check_whole(proto, size_limit)
        return
    if _tree_node_count(trees) > _CHECKED_WHOLE_NODES:
        _check_skeleton(proto, trees, size_limit)
        return
    try:
        _check_whole(proto, size_limit)
    except onnx.checker.ValidationError:
        _check_skeleton(proto, trees, size_limit)  # names the tree attribute the checker refused, as it did
        raise


#: A tree model of at most this many tree nodes (``nodes_modes`` entries, all ensembles together) is checked whole
#: (:func:`check_model`): serialized and checked, a node's lists take about 0.14 us, where the skeleton's check
#: costs 120-170 us whatever the size (XGBoost, LightGBM and CatBoost classifiers of 10-1,000 trees, thread CPU
#: time: the two are even at 1,100-1,300 nodes, 35-60 kB).
_CHECKED_WHOLE_NODES = 1000


def _tree_node_count(trees: Sequence[Any]) -> int:
    """How many nodes ``trees`` hold, by their ``nodes_modes`` lists; more than :data:`_CHECKED_WHOLE_NODES` for an
    ensemble without that list of text (ai.onnx.ml 5's ``TreeEnsemble`` keeps it as a tensor): not counted."""
    count = 0
    for node in trees:
        modes = next((a for a in node.attribute if a.name == "nodes_modes"), None)
        if modes is None or modes.type != modes.STRINGS:
            return _CHECKED_WHOLE_NODES + 1
        count += len(modes.strings)
    return count


def _check_whole(proto: onnx.ModelProto, size_limit: int | None) -> None:
    """The ONNX checker on the whole of ``proto``, refused first when it serializes to more than ``size_limit``."""
    import onnx

    if size_limit is None:
        onnx.checker.check_model(proto)
        return
    try:
        data = proto.SerializeToString()
    except Exception:
        size = proto.ByteSize()  # the serializer refuses a model too large to hold: say it as its size
        if size > size_limit:
            raise ModelTooLargeError(size) from None
        raise
    if len(data) > size_limit:
        raise ModelTooLargeError(len(data))
    onnx.checker.check_model(data)


def _check_skeleton(proto: onnx.ModelProto, trees: Sequence[Any], size_limit: int | None) -> None:
    """:func:`check_model` of a model holding the tree ensembles ``trees``, as its :func:`tree_skeleton`."""
    import onnx

    skeleton = tree_skeleton(proto).SerializeToString()
    opsets = model_opsets(proto)
    read = [_tree_attributes(node, opsets.get(ML_DOMAIN, 1)) for node in trees]
    if size_limit is not None:
        counted = len(skeleton) + sum(bound for _, bound, _ in read)
        # measured whole when small (ByteSize is then cheaper than serializing the text lists alone), or when a
        # node is refused below (its size is said first, as before), or when a message the skeleton rebuilt holds
        # fields this onnx does not know (kept when serialized, left out of the skeleton)
        measure = (counted < _MEASURED_WHOLE or any(problem is not None for problem, _, _ in read)
                   or any(_has_unknown_fields(m) for m in (proto, proto.graph, *trees)))
        if measure or counted + sum(6 + a.ByteSize() for _, _, rest in read for a in rest) > size_limit:
            size = proto.ByteSize()
            if size > size_limit:
                raise ModelTooLargeError(size)
    onnx.checker.check_model(skeleton)
    for node, (problem, _, _) in zip(trees, read):
        if problem is not None:
            raise onnx.checker.ValidationError(f"node {node.name or node.op_type!r} ({node.op_type}): {problem}")


def _is_tree_ensemble(node: Any) -> bool:
    return canonical_domain(node.domain) == ML_DOMAIN and node.op_type.startswith("TreeEnsemble")


def tree_attribute_problem(node: Any, ml_opset: int) -> str | None:
    """What the ONNX checker would refuse in a tree node's attributes, or None: an attribute its schema
    (at ``ml_opset``) does not know, of another type, holding more than one kind of value, given twice, or
    missing where required."""
    return _tree_attributes(node, ml_opset)[0]


#: A tree model whose skeleton and counted lists are below this many bytes is measured whole (``ByteSize``):
#: 10 us for a 30 kB CatBoost model, less than measuring its text lists apart.
_MEASURED_WHOLE = 256 * 1024
#: Fields of an attribute whose serialized bytes :func:`_tree_attributes` bounds by counting.
_COUNTED_FIELDS = frozenset({"name", "type", "ints", "floats", "doc_string", "ref_attr_name", "i", "f"})


def _counted_bytes(field: str, value: Any) -> int:
    """At least the bytes one of :data:`_COUNTED_FIELDS` takes serialized (protobuf 2: lists unpacked)."""
    if field == "ints":
        return 11 * len(value)
    if field == "floats":
        return 5 * len(value)
    if field in ("name", "doc_string", "ref_attr_name"):
        return 6 + len(value.encode())  # UTF-8: a character is up to 4 bytes
    return 11  # type, i, f


def _has_unknown_fields(message: Any) -> bool:
    """Whether ``message`` (parsed from a file a newer onnx wrote) holds fields this onnx does not know."""
    return len(_unknown_field_set()(message)) > 0


@functools.cache
def _unknown_field_set() -> Any:
    """protobuf's ``UnknownFieldSet``, imported once: imported at each of a tree node's attributes, the import
    took a third of :func:`_tree_attributes`."""
    from google.protobuf import unknown_fields

    return unknown_fields.UnknownFieldSet


def _tree_attributes(node: Any, ml_opset: int) -> tuple[str | None, int, list[Any]]:
    """:func:`tree_attribute_problem`, and (when there is none) at least the bytes the attributes
    :func:`tree_skeleton` leaves out of ``node`` add to the serialized model, counted in the same pass without
    serializing the numbers: each integer at its longest (a tag and a 10-byte varint), each float as a tag and 4
    bytes, each length prefix at 5 bytes, 10 bytes for the node's and the graph's length prefixes, which grow; and
    the attributes holding anything else (text, a tensor), whose bytes the caller measures (``ByteSize``) if it
    needs them."""
    import onnx

    schema = _attribute_schema(node.op_type, ml_opset)
    if schema is None:
        return f"no schema for {node.op_type} at ai.onnx.ml {ml_opset}", 0, []
    scalar = (onnx.AttributeProto.INT, onnx.AttributeProto.FLOAT, onnx.AttributeProto.STRING)
    present = set()
    bound = 10
    serialized: list[Any] = []
    for attr in node.attribute:
        name = attr.name
        if name in present:  # onnx.checker: "Attribute 'nodes_values' appeared multiple times."
            return f"attribute {name!r} appears more than once", 0, []
        present.add(name)
        spec = schema.get(name)
        if spec is None:
            return f"unrecognized attribute {name!r}", 0, []
        if int(attr.type) != spec[0]:
            return f"attribute {name!r} is of type {attr.type}, its schema says {spec[0]}", 0, []
        fields = attr.ListFields()
        if len(fields) > 3:  # name and type are set (both checked above): more than one field beside them
            held = [f.name for f, _ in fields if f.name not in ("name", "type", "doc_string", "ref_attr_name")]
            if len(held) > 1:
                return f"attribute {name!r} holds more than one kind of value ({held})", 0, []
        if spec[0] in scalar:
            continue  # kept in the skeleton
        if _has_unknown_fields(attr):  # serialized too, not listed: measured
            serialized.append(attr)
            continue
        kind = fields[1][0].name if len(fields) == 3 else ""  # name, the list, type (in field order)
        if kind in ("ints", "floats"):
            bound += 40 + len(name) + (11 if kind == "ints" else 5) * len(fields[1][1])
        elif kind != "strings" and all(f.name in _COUNTED_FIELDS for f, _ in fields):
            bound += 16 + sum(_counted_bytes(f.name, v) for f, v in fields)
        else:
            serialized.append(attr)
    missing = [n for n, (_, required) in schema.items() if required and n not in present]
    return f"required attribute(s) {missing} missing" if missing else None, bound, serialized


@functools.lru_cache(maxsize=1024)
def since_version(op_type: str, opset: int, domain: str = "") -> int:
    """The version of ``op_type``'s schema in force at ``opset`` of ``domain``
    (``onnx.defs.get_schema(...).since_version``), looked up once per process: an ai.onnx.ml lookup takes 18 us
    (measured), and restamping a converted model asked two per node, a quarter of a small CatBoost conversion's own
    work besides the export.

    Raises
    ------
    onnx.defs.SchemaError
        No schema of that operator at that opset (not remembered: asked again, it is looked up again).
    """
    import onnx

    return int(onnx.defs.get_schema(op_type, opset, domain).since_version)


@functools.lru_cache(maxsize=64)
def _attribute_schema(op_type: str, ml_opset: int) -> dict[str, tuple[int, bool]] | None:
    """``{attribute: (type, required)}`` of an ai.onnx.ml operator at ``ml_opset`` (None: no such schema)."""
    import onnx

    try:
        schema = onnx.defs.get_schema(op_type, ml_opset, ML_DOMAIN)
    except Exception:
        return None
    return {name: (int(getattr(spec.type, "value", -1)), bool(spec.required))
            for name, spec in schema.attributes.items()}


def tree_skeleton(proto: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of ``proto`` whose ai.onnx.ml tree-ensemble nodes keep their inputs, outputs and scalar
    attributes but not their tree lists (:func:`check_model`); everything else is kept as it is (the metadata,
    functions and docs the checker checks too)."""
    import onnx

    scalar = (onnx.AttributeProto.INT, onnx.AttributeProto.FLOAT, onnx.AttributeProto.STRING)
    skeleton = onnx.ModelProto()
    _copy_fields(proto, skeleton, leave="graph")
    graph = skeleton.graph
    _copy_fields(proto.graph, graph, leave="node")
    for node in proto.graph.node:
        if _is_tree_ensemble(node):
            copy = graph.node.add()
            _copy_fields(node, copy, leave="attribute")
            copy.attribute.extend(a for a in node.attribute if a.type in scalar)
        else:
            graph.node.append(node)
    return skeleton


def load_error(proto: onnx.ModelProto, *, optimized: bool = False) -> str | None:
    """Why onnxruntime cannot load ``proto`` (the first line, at most 160 characters), or None when it
    loads (or onnxruntime is absent: validation says). ``optimized``: with onnxruntime's default graph
    optimisations, as a deployment loads it (a fusion can fail on a file that is well typed); otherwise
    with none, asking only whether the file is well typed."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    options = ort.SessionOptions()
    if not optimized:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.intra_op_num_threads = 1
    try:
        ort.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])
    except Exception as err:
        text = str(err).strip().splitlines()
        return (text[0] if text else type(err).__name__)[:160]
    return None


#: How onnxruntime says it has no kernel for a node in the types the file gives it: at load, no kernel registered
#: (``Conv`` or ``MaxPool`` on double), and when the node runs, a kernel registered for double that refuses it
#: (``LSTM`` and ``GRU``: "LSTM operator does not support double yet").
_NO_KERNEL_AT_LOAD = re.compile(r"Could not find an implementation for (\w+)\(\d+\) node with name '([^']*)'")
_NO_KERNEL_AT_RUN = re.compile(r"Name:'([^']*)' Status Message: (\w+) operator does not support (\w+)")


@dataclass(frozen=True)
class MissingKernel:
    """An operator onnxruntime's CPU provider has no kernel for in the types a file computes it in."""

    #: The ONNX operator (``"Conv"``).
    op: str
    #: The node onnxruntime named.
    node: str
    #: onnxruntime's words, the first line (at most 200 characters).
    said: str


def missing_kernel(proto: onnx.ModelProto, feeds: Mapping[str, Any] | None = None) -> MissingKernel | None:
    """The operator of ``proto`` onnxruntime has no kernel for in its types, or None when it has one for every node
    (or fails for another reason, or is absent: validation says why).

    onnxruntime keeps no list of its kernels' types that can be read: a session is made (graph optimisations and
    thread pools off), and run on ``feeds`` when given, since ``LSTM`` and ``GRU`` load on double and refuse it
    only when they run. The first such node is named (onnxruntime stops there)."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 4
    try:
        session = ort.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])
    except Exception as err:
        found = _NO_KERNEL_AT_LOAD.search(str(err))
        return MissingKernel(found.group(1), found.group(2), _said(err)) if found else None
    if feeds is None:
        return None
    takes = {i.name for i in session.get_inputs()}
    try:
        session.run(None, {name: value for name, value in feeds.items() if name in takes})
    except Exception as err:
        found = _NO_KERNEL_AT_RUN.search(str(err))
        return MissingKernel(found.group(2), found.group(1), _said(err)) if found else None
    return None


#: Operators whose CPU kernel onnxruntime registers for double and refuses when it runs ("LSTM operator does not
#: support double yet", onnxruntime 1.32): its kernel list says they take double, so they are named by op type.
REFUSE_DOUBLE_WHEN_RUN = frozenset({"LSTM", "GRU"})


def missing_kernels(proto: onnx.ModelProto, feeds: Mapping[str, Any] | None = None,
                    data_type: int = 11) -> list[MissingKernel]:
    """Every node of ``proto``'s main graph taking a ``data_type`` input (``TensorProto.DOUBLE`` by default)
    that onnxruntime's CPU provider has no kernel for in that type, in graph order; an empty list when
    :func:`missing_kernel` finds none (the session loads and runs on ``feeds``), or when no node it or the list below
    names takes ``data_type`` (another type's gap: validation names it).

    :func:`missing_kernel` names the first such node only: onnxruntime stops there, so a float64 model with a
    ``Conv``, an ``AveragePool`` and an ``LSTM`` was refused for the ``Conv``, then, once that was fixed, for the
    next. The others are read from onnxruntime's list of kernels (``get_all_opkernel_def``: the types each CPU
    kernel takes, per opset range): a node is named when no kernel of its operator at the file's opset takes
    ``data_type``, or when its operator is one of :data:`REFUSE_DOUBLE_WHEN_RUN` (double only), or the one
    onnxruntime named. Value types come from ONNX's shape inference. Without that list, the first node only."""
    first = missing_kernel(proto, feeds)
    if first is None:
        return []
    types = value_types(proto)
    wanted = onnx_type_name(data_type)
    registry = _cpu_kernel_types()
    opsets = model_opsets(proto)
    found: list[MissingKernel] = []
    for node in proto.graph.node:
        if not any(types.get(name) == data_type for name in node.input if name):
            continue
        if node.name == first.node or node.op_type == first.op:
            found.append(first if node.name == first.node else MissingKernel(node.op_type, node.name, first.said))
            continue
        domain = canonical_domain(node.domain)
        kernels = registry.get((domain, node.op_type))
        opset = opsets.get(domain, 0)
        if (data_type == 11 and node.op_type in REFUSE_DOUBLE_WHEN_RUN and domain == "") or (kernels and not any(
                low <= opset <= high and wanted in takes for low, high, takes in kernels)):
            found.append(MissingKernel(node.op_type, node.name, f"no CPU kernel of {node.op_type} takes {wanted}"))
    return found


@functools.cache
def _cpu_kernel_types() -> dict[tuple[str, str], list[tuple[int, int, frozenset[str]]]]:
    """``{(domain, op): [(first opset, last opset, the types its constraints take)]}`` of onnxruntime's CPU kernels,
    empty when onnxruntime does not list them."""
    try:
        from onnxruntime.capi import _pybind_state
        kernels = _pybind_state.get_all_opkernel_def()
    except Exception:
        return {}
    table: dict[tuple[str, str], list[tuple[int, int, frozenset[str]]]] = {}
    for kernel in kernels:
        if kernel.provider == "CPUExecutionProvider":
            low, high = kernel.version_range
            takes = frozenset(t for listed in kernel.type_constraints.values() for t in listed)
            table.setdefault((canonical_domain(kernel.domain), kernel.op_name), []).append((low, high, takes))
    return table


def cpu_kernel_types(op: str, opset: int, domain: str = "") -> list[str]:
    """The element types onnxruntime's CPU kernels of ``op`` take at ``opset`` (its ``T`` constraint when it has one),
    as onnxruntime names them without ``tensor()`` (``int32``, ``float``, ``double``), sorted; empty when onnxruntime
    does not list its kernels."""
    takes: set[str] = set()
    for low, high, types in _cpu_kernel_types_by_constraint().get((canonical_domain(domain), op), []):
        if low <= opset <= high:
            takes.update(types.get("T", frozenset().union(*types.values())))
    return sorted(t.removeprefix("tensor(").removesuffix(")") for t in takes)


@functools.cache
def _cpu_kernel_types_by_constraint() -> dict[tuple[str, str], list[tuple[int, int, dict[str, frozenset[str]]]]]:
    """:func:`_cpu_kernel_types` with each constraint's types apart (``Less`` takes int16 as ``T``, answers bool as
    ``T1``)."""
    try:
        from onnxruntime.capi import _pybind_state
        kernels = _pybind_state.get_all_opkernel_def()
    except Exception:
        return {}
    table: dict[tuple[str, str], list[tuple[int, int, dict[str, frozenset[str]]]]] = {}
    for kernel in kernels:
        if kernel.provider == "CPUExecutionProvider":
            low, high = kernel.version_range
            types = {name: frozenset(listed) for name, listed in kernel.type_constraints.items()}
            table.setdefault((canonical_domain(kernel.domain), kernel.op_name), []).append((low, high, types))
    return table


def onnx_type_name(data_type: int) -> str:
    """ONNX's name of a tensor type, as onnxruntime writes it: ``tensor(double)`` for 11."""
    import onnx

    return f"tensor({onnx.helper.tensor_dtype_to_string(data_type).removeprefix('TensorProto.').lower()})"


def value_types(proto: onnx.ModelProto, *, subgraphs: bool = False) -> dict[str, int]:
    """The element type of each value of the main graph that the file or ONNX's shape inference types; with
    ``subgraphs``, also of the values of its If/Loop/Scan bodies (ONNX's inference types those too)."""
    import onnx

    try:
        typed = onnx.shape_inference.infer_shapes(proto).graph
    except Exception:
        typed = proto.graph
    found: dict[str, int] = {}
    # the main graph's last: a body's value named as an outer one (no file onnx's checker passes) is not read for it
    for graph in [*list(all_graphs(typed))[1:], typed] if subgraphs else [typed]:
        found.update((i.name, i.data_type) for i in graph.initializer)
        found.update((v.name, v.type.tensor_type.elem_type) for v in (*graph.input, *graph.output, *graph.value_info))
    return found


def _said(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return (text[0] if text else type(err).__name__)[:200]


#: Graph names exporters write whatever the model (``torch.onnx.export``'s TorchScript and dynamo exporters,
#: tf2onnx): no name of the user's model.
EXPORTER_GRAPH_NAMES = frozenset({"main_graph", "main-graph", "torch_jit", "torch-jit-export", "tf2onnx"})


def model_name(proto: onnx.ModelProto, source: Any = None) -> str | None:
    """The name a packaged service gives ``proto``: its graph name, or where that is an exporter's default
    (:data:`EXPORTER_GRAPH_NAMES`: a PyTorch module exported with dynamo is ``main_graph``, and its container
    service was ``main-graph``) the stem of ``source`` when that is a file path; None when neither names it."""
    name = proto.graph.name
    if name and name not in EXPORTER_GRAPH_NAMES:
        return str(name)
    if isinstance(source, (str, os.PathLike)) and Path(source).suffix:
        return Path(source).stem or None
    return None


def load_model(
    model: ModelLike,
    *,
    base_dir: str | os.PathLike[str] | None = None,
    load_external: bool = True,
) -> onnx.ModelProto:
    """Load an ONNX model from a ModelProto, a path, serialized bytes or a ``Conversion``.

    External data is only read from files inside the model's own folder: a reference that is
    absolute, climbs out with ``..``, goes through a symlink out of the folder, or names a missing
    file is refused with :class:`InvalidModelError` before anything is read.

    Raises
    ------
    InvalidModelError
        The input is not a readable ONNX model.
    """
    return load_model_and_data_files(model, base_dir=base_dir, load_external=load_external)[0]


def load_model_and_data_files(
    model: ModelLike,
    *,
    base_dir: str | os.PathLike[str] | None = None,
    load_external: bool = True,
) -> tuple[onnx.ModelProto, list[Path]]:
    """:func:`load_model`, and the external data files its weights were read from (paths, each once, in the order
    the model names them; empty for a model held in one file, bytes or an object). Within :func:`loaded_once` of
    ``model``, loaded once.

    Raises
    ------
    InvalidModelError
        As :func:`load_model`.
    """
    import onnx

    if isinstance(model, onnx.ModelProto):
        return model, []
    held = _LOADED.get()
    if held is not None and held[0] is model and base_dir is None and load_external:
        if held[1] is None:
            token = _LOADED.set(None)  # the same call, outside the holder's reach
            try:
                held[1], held[2] = load_model_and_data_files(model)
            finally:
                _LOADED.reset(token)
        return held[1], list(held[2])
    from onnxgate.conversion import Conversion

    if isinstance(model, Conversion):
        return model.model, []
    if isinstance(model, (bytes, bytearray, memoryview)):
        proto = _parse(bytes(model), source="the bytes given")
        where = Path(base_dir) if base_dir is not None else None
        files = _check_and_load_external(proto, where, source="the bytes given", load=load_external, size=len(model))
        return proto, files
    if isinstance(model, (str, os.PathLike)):
        path = Path(model)
        if path.is_dir():
            raise InvalidModelError(
                f"expected an ONNX model file, found a folder: {str(path)!r}. Pass the .onnx file inside it.",
                path=str(path),
            )
        from onnxgate._files import describe_unreachable, read_regular_file

        if not path.exists():  # missing, a link to nothing, or a link that loops
            raise InvalidModelError(describe_unreachable(path, "model file"), path=str(path))
        data = read_regular_file(path, what="model file", error=InvalidModelError)
        proto = _parse(data, source=repr(str(path)))
        files = _check_and_load_external(proto, path.parent, source=repr(str(path)), load=load_external,
                                         size=len(data), path=path)
        return proto, files
    check_model_kind(model)
    raise AssertionError(f"check_model_kind let {type(model).__name__} through")


def check_model_kind(model: Any) -> None:
    """Refuse what is none of the kinds of model :func:`load_model` reads, without reading it (a test module's
    ``model_checks(None)`` is refused when it is collected, not once in each check it makes).

    Raises
    ------
    InvalidModelError
        ``model`` is not a path, bytes, an ``onnx.ModelProto`` or a ``Conversion``.
    """
    import onnx

    from onnxgate.conversion import Conversion

    if isinstance(model, (onnx.ModelProto, Conversion, bytes, bytearray, memoryview, str, os.PathLike)):
        return
    found = "None" if model is None else type(model).__name__
    raise InvalidModelError(
        f"expected an ONNX model as a path, bytes, an onnx.ModelProto or a Conversion; found {found}.")


def _parse(data: bytes, *, source: str) -> onnx.ModelProto:
    import onnx
    from google.protobuf.message import DecodeError

    if not data:
        raise InvalidModelError(f"{source} is empty: expected a serialized ONNX model. Write it again (onnx.save("
                                "model, PATH), or onnxgate convert MODEL --sample ROWS -o PATH): a save or copy cut "
                                "short leaves an empty file")
    proto = onnx.ModelProto()
    try:
        proto.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError, TypeError) as err:
        raise InvalidModelError(
            f"{source} is not a valid ONNX model (protobuf decode failed: {err}). "
            "The file may be truncated, corrupt, or another format; re-export it."
        ) from err
    if not proto.HasField("graph") or proto.ir_version <= 0:
        raise InvalidModelError(
            f"{source} parsed as protobuf but is not an ONNX model (ir_version={proto.ir_version}, "
            f"graph={'present' if proto.HasField('graph') else 'missing'}). Re-export the model."
        )
    _check_names(proto, source=source)
    _check_dims(proto, source=source)
    return proto


#: Bytes per element for tensor types stored one element per whole byte count (ONNX TensorProto enum).
#: Sub-byte types (int4, float4...) and strings are packed differently and are not size-checked here.
_FIXED_ITEMSIZE = {1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 14: 8, 15: 16,
                   16: 2, 17: 1, 18: 1, 19: 1, 20: 1, 24: 1}
_MAX_ELEMENTS = 2**62


def constant_tensors(graph: Any) -> dict[str, Any]:
    """The ``TensorProto`` of each constant value of ``graph`` by name: its initializers and the ``value`` of its
    ``Constant`` nodes (not its subgraphs')."""
    constants = {init.name: init for init in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.output:
            value = next((a.t for a in node.attribute if a.name == "value" and a.HasField("t")), None)
            if value is not None:
                constants[node.output[0]] = value
    return constants


def node_subgraphs(node: Any) -> Iterator[tuple[str, Any]]:
    """``(attribute name, graph)`` for each graph ``node`` holds (an If's branches, a Loop's or Scan's body)."""
    for attr in node.attribute:
        if attr.HasField("g"):
            yield attr.name, attr.g
        for sub in attr.graphs:
            yield attr.name, sub


def all_graphs(graph: Any) -> Iterator[Any]:
    """``graph`` and its subgraphs (If/Loop/Scan bodies), depth first."""
    yield graph
    for node in graph.node:
        for _, sub in node_subgraphs(node):
            yield from all_graphs(sub)


def _check_names(proto: onnx.ModelProto, *, source: str) -> None:
    """Refuse names that are not UTF-8 (protobuf hands them back as bytes for a proto2 message).

    onnxruntime would fail on them with a UnicodeDecodeError and print an "EP Error" banner to stdout.
    """
    bad: list[str] = []

    def check(value: Any, where: str) -> None:
        if isinstance(value, bytes) and len(bad) < 5:
            bad.append(f"{where} {value[:40]!r}")

    for graph in all_graphs(proto.graph):
        check(graph.name, "graph name")
        for info in (*graph.input, *graph.output, *graph.value_info, *graph.initializer):
            check(info.name, "tensor name")
        for node in graph.node:
            for value in (node.name, node.op_type, node.domain, *node.input, *node.output):
                check(value, f"node {node.name!r}")
            for attr in node.attribute:
                check(attr.name, f"attribute of node {node.name!r}")
    for entry in proto.opset_import:
        check(entry.domain, "opset domain")
    for prop in proto.metadata_props:
        check(prop.key, "metadata key")
        check(prop.value, "metadata value")
    if bad:
        raise InvalidModelError(
            f"{source} has names that are not valid UTF-8: {'; '.join(bad)}. The file is corrupt; "
            "re-export the model."
        )


def _check_dims(proto: onnx.ModelProto, *, source: str) -> None:
    """Refuse negative or overflowing dimensions and initializers whose bytes do not match their shape.

    onnxruntime accepts a negative input dim and sizes buffers from initializer dims, so a hostile
    file could make later steps allocate absurd amounts; checking here keeps the failure at load.
    """
    bad: list[str] = []
    for graph in all_graphs(proto.graph):
        for info in (*graph.input, *graph.output, *graph.value_info):
            if info.type.HasField("tensor_type") and info.type.tensor_type.HasField("shape"):
                for dim in info.type.tensor_type.shape.dim:
                    if dim.HasField("dim_value") and dim.dim_value < 0:
                        bad.append(f"{info.name!r} has dim {dim.dim_value} (a dynamic axis needs a name)")
                        break
    for tensor in _all_tensors(proto):
        count = 1
        for dim in tensor.dims:
            if dim < 0:
                bad.append(f"tensor {tensor.name!r} has negative dim {dim}")
                break
            count *= dim
        else:
            if count > _MAX_ELEMENTS:
                bad.append(f"tensor {tensor.name!r} shape {list(tensor.dims)} has more than 2**62 elements")
            elif tensor.HasField("raw_data") and tensor.data_location != 1:
                itemsize = _FIXED_ITEMSIZE.get(tensor.data_type)
                if itemsize is not None and len(tensor.raw_data) != count * itemsize:
                    bad.append(
                        f"tensor {tensor.name!r} shape {list(tensor.dims)} needs {count * itemsize} bytes "
                        f"but holds {len(tensor.raw_data)}"
                    )
        if len(bad) >= 5:
            break
    if bad:
        raise InvalidModelError(
            f"{source} has impossible tensor dims or sizes: {'; '.join(bad)}. "
            "The file is corrupt or hand-edited; re-export the model."
        )


def _all_tensors(proto: onnx.ModelProto) -> Iterator[Any]:
    from onnx.external_data_helper import _get_all_tensors

    yield from _get_all_tensors(proto)


def _external_tensors(proto: onnx.ModelProto) -> Iterator[Any]:
    from onnx.external_data_helper import _get_all_tensors

    for tensor in _get_all_tensors(proto):
        if tensor.HasField("data_location") and tensor.data_location == 1:  # EXTERNAL
            yield tensor


def _check_and_load_external(
    proto: onnx.ModelProto, base: Path | None, *, source: str, load: bool, size: int, path: Path | None = None
) -> list[Path]:
    """Refuse external data that is unsafe, missing or short, and read it into ``proto`` when ``load``; the files
    it is in (``base`` / each location, once). A model above :data:`MODEL_BYTES_LIMIT` read from ``path`` within
    :func:`weights_by_path` keeps its weights in their files (:func:`weights_path`)."""
    tensors = list(_external_tensors(proto))
    if not tensors:
        return []
    if base is None:
        named = sorted({_external_entries(t).get("location", "") for t in tensors})
        raise InvalidModelError(
            f"{source} keep the weights of {len(tensors)} tensor(s) in external data file(s) "
            f"{', '.join(repr(f) for f in named)}, and a model given as bytes has no folder to find them in: pass "
            "the model's path instead (its data files beside it), or onnx.load() the file and pass the ModelProto"
        )
    bad: list[str] = []
    missing: dict[str, list[str]] = {}
    for tensor in tensors:
        location = _external_entries(tensor).get("location", "")
        problem = _external_location_problem(location, base)
        if problem == _MISSING:
            missing.setdefault(location, []).append(tensor.name)
        elif problem:
            bad.append(f"{tensor.name!r} -> {location!r} ({problem})")
    if bad:
        raise InvalidModelError(
            f"{source} refers to external data that cannot be used safely: {'; '.join(bad)}. "
            "External data must be a file next to the model, inside its folder."
        )
    if missing:
        raise InvalidModelError(_missing_data_message(source, base, missing))
    short = _short_data_file(tensors, base)
    if short is not None:
        raise InvalidModelError(f"{source}: {short}")
    # named before loading, which drops each tensor's external_data entries
    files = [base / location for location in dict.fromkeys(_external_entries(t).get("location", "") for t in tensors)]
    if load:
        from onnx.external_data_helper import load_external_data_for_model

        whole = size + sum(_external_bytes(tensor, base) for tensor in tensors)
        if whole > MODEL_BYTES_LIMIT:  # refused before reading gigabytes the checks could not serialize
            by_path = _BY_PATH.get()
            if by_path is None or path is None:
                raise InvalidModelError(too_large_message(f"{source} with its external data", whole))
            by_path[id(proto)] = (proto, path.absolute(), whole)
            return files

        try:
            load_external_data_for_model(proto, str(base))
        except Exception as err:  # onnx raises several kinds here
            raise InvalidModelError(f"{source}: cannot read its external data: {err}") from err
    return files


_MISSING = "file does not exist"


def _external_entries(tensor: Any) -> dict[str, str]:
    return {e.key: e.value for e in tensor.external_data}


def _missing_data_message(source: str, base: Path, missing: Mapping[str, list[str]]) -> str:
    """Expected, found and fix for external data files that are not beside the model."""
    named = "; ".join(f"{location!r} (the weights of {len(names)} tensor(s): "
                      f"{', '.join(repr(n) for n in names[:3])}{' ...' if len(names) > 3 else ''})"
                      for location, names in missing.items())
    return (
        f"{source} keeps its weights in external data: expected {named} beside it in {str(base.absolute())!r}; "
        "found no such file. An ONNX model saved with external data (onnx.save_model(..., save_as_external_data=True), "
        "torch.onnx.export of a large model) is two or more files: copy the data file(s) next to the .onnx file, "
        "under the name(s) above"
    )


def _short_data_file(tensors: list[Any], base: Path) -> str | None:
    """Why an external data file is shorter than its tensors need (a truncated copy or download), or None."""
    needed: dict[str, tuple[int, str]] = {}
    for tensor in tensors:
        entries = _external_entries(tensor)
        if not entries.get("length", "").isdigit():
            continue
        end = (int(entries["offset"]) if entries.get("offset", "").isdigit() else 0) + int(entries["length"])
        location = entries.get("location", "")
        if end > needed.get(location, (0, ""))[0]:
            needed[location] = (end, tensor.name)
    for location, (end, name) in needed.items():
        found = (base / location).stat().st_size
        if found < end:
            return (f"its external data file {location!r} is {found:,} bytes; its tensors need {end:,} (tensor "
                    f"{name!r} ends there): the file is truncated (an interrupted copy or download). Copy "
                    f"{location!r} again from where the model was saved, beside the .onnx file")
    return None


def _external_bytes(tensor: Any, base: Path) -> int:
    """The bytes ``tensor``'s external data holds: its ``length``, else its file's from ``offset`` on."""
    entries = _external_entries(tensor)
    if entries.get("length", "").isdigit():
        return int(entries["length"])
    offset = int(entries["offset"]) if entries.get("offset", "").isdigit() else 0
    return max((base / entries["location"]).stat().st_size - offset, 0)


def _external_location_problem(location: str, base: Path | None) -> str:
    if not location:
        return "no location"
    if base is None:
        return "a model given as bytes has no folder to read external data from"
    if os.path.isabs(location) or location.startswith(("/", "\\")) or ":" in location:
        return "absolute path"
    parts = Path(location).parts
    if ".." in parts:
        return "path leaves the model's folder"
    root = base.resolve()
    target = (base / location).resolve()
    if root != target and root not in target.parents:
        return "path leaves the model's folder"
    if not target.is_file():
        return _MISSING
    return ""


def _umask() -> int:
    """The process's umask, read without changing it where the platform allows."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: the classic set-and-restore
    os.umask(mask)
    return mask


def public_mode(path: str | os.PathLike[str]) -> None:
    """Give a file or folder made by ``tempfile`` (0600/0700) the mode the user's umask asks for.

    What onnxgate writes is meant to be read by others: a container's non-root user reading
    ``model.onnx``, a colleague reading a report.
    """
    base = 0o777 if os.path.isdir(path) else 0o666
    os.chmod(path, base & ~_umask())


@contextmanager
def atomic_write(path: str | os.PathLike[str], *, overwrite: bool = False, mode: str = "wb") -> Iterator[Any]:
    """Write to a temporary file beside ``path`` and rename it into place when the block succeeds.

    An interrupted write leaves the old file (or nothing) in place, never a half-written file.

    Raises
    ------
    OutputExistsError
        ``path`` exists and ``overwrite`` is false, or it (or a folder on its way) is a symbolic link that loops.
    """
    from onnxgate._files import link_loop_refusal, link_note, occupied

    target = Path(path)
    looping = link_loop_refusal(target)
    if looping is not None:  # before "exists; pass overwrite=True": that cannot write through a loop either
        raise OutputExistsError(looping, path=str(target))
    if occupied(target) and not overwrite:
        raise OutputExistsError(
            f"{str(target)!r}{link_note(target)} exists; refusing to overwrite it. Pass overwrite=True (CLI: --force) "
            "or choose another path.",
            path=str(target),
        )
    if target.is_dir():
        raise IsADirectoryError(errno.EISDIR, "it is a folder, not a file", str(target))
    if target.is_symlink() and (target.is_file() or not target.exists()):
        # write where the link points, as `> link` does (a link to nothing yet too: replacing it with a file lost the
        # user's link); the link stays
        target = target.resolve()
    if target.exists() and not target.is_file():
        # the new file is renamed into place: a FIFO or device (/dev/null) would be replaced, not written
        raise OSError(errno.EINVAL, "it is not a regular file (a pipe, device or socket); write to a file "
                      "path instead", str(path))
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        clean_stale_partials(target, ".tmp")  # a temporary file left by a writer that was killed
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.{_writer_id()}.", suffix=".tmp", dir=target.parent)
    except OSError as err:  # name the file the user asked for, not a temporary one
        raise type(err)(err.errno, err.strerror, str(target)) from err
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        public_mode(tmp)
        os.replace(tmp, target)
    except BaseException as err:
        with _ignore_missing():
            os.unlink(tmp)
        if (isinstance(err, OSError) and not isinstance(err, OnnxGateError) and err.errno is not None
                and err.filename in (None, tmp)):  # one naming another file (a report written beside) says so
            raise type(err)(err.errno, err.strerror, str(target)) from err
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, overwrite: bool = False) -> None:
    with atomic_write(path, overwrite=overwrite) as handle:
        handle.write(data)


def atomic_write_text(path: str | os.PathLike[str], text: str, *, overwrite: bool = False) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), overwrite=overwrite)


def atomic_write_texts(files: Sequence[tuple[str | os.PathLike[str], str]], *, overwrite: bool = False) -> None:
    """Write several text files all or none: each is written and flushed to a temporary file first, and
    only when every one is written are they renamed into place. Reports that say "passed" were left
    behind by a run that then failed writing its last one (a full disk) and exited 2.
    """
    with ExitStack() as stack:
        handles = [stack.enter_context(atomic_write(path, overwrite=overwrite)) for path, _text in files]
        for handle, (_path, text) in zip(handles, files):
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())


def write_folder_atomically(folder: str | os.PathLike[str], files: Mapping[str, str | bytes | Path], *,
                            overwrite: bool = False) -> Path:
    """Write ``files`` (relative path -> text, bytes, or a file's :class:`~pathlib.Path` to copy: a model's external
    data, gigabytes not held in memory) into ``folder`` so it appears complete or not at all.

    Everything is written into a staging folder beside ``folder`` first (``.<name>.<pid>.<random>.partial``).
    A new (or empty) ``folder`` is then replaced by the staging folder in one rename. A non-empty one
    is replaced only when ``overwrite``: files that are neither written now nor listed in the old
    ``manifest.json`` (the user's own) are linked into the staging folder, and the two folders are
    swapped in one ``renameat2(RENAME_EXCHANGE)`` (two renames where the kernel or filesystem lacks
    it). On any failure before the swap, ``folder`` is left exactly as it was.

    Staging folders left by a process that died (``kill -9``, a power cut) are removed on the next
    write beside them. Text is written as UTF-8 with ``\\n`` line ends.

    Raises
    ------
    OutputExistsError
        ``folder`` is not empty and ``overwrite`` is false, or it (or a folder on its way) is a symbolic link that
        loops, or it is a symbolic link to nothing.
    OSError
        Writing failed (a full disk...); the error names ``folder``, not the staging folder.
    """
    from onnxgate._files import link_loop_refusal, refuse_dangling_folder_link, refuse_filled_folder

    looping = link_loop_refusal(folder, folder=True)
    if looping is not None:
        raise OutputExistsError(looping, path=os.fspath(folder))
    refuse_dangling_folder_link(folder)
    refuse_filled_folder(folder, overwrite=overwrite)
    target = Path(folder).absolute()
    if target.is_symlink() and target.is_dir():
        target = target.resolve()  # written where the link points, as a file is (atomic_write); the link stays
    with staged_folder(target, overwrite=overwrite) as stage:
        stage.mkdir()
        for rel, content in files.items():
            path = stage / rel
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                if isinstance(content, bytes):
                    path.write_bytes(content)
                elif isinstance(content, Path):
                    shutil.copyfile(content, path)
                else:
                    path.write_text(content, encoding="utf-8", newline="\n")
            except OSError as err:  # name the file the user asked for, not the staging copy
                raise type(err)(err.errno, err.strerror, str(target / rel)) from err
        if target.is_dir() and any(target.iterdir()):
            _carry_over_foreign(target, stage, files)
    return target


@contextmanager
def staged_folder(folder: str | os.PathLike[str], *, overwrite: bool = False) -> Iterator[Path]:
    """A path beside ``folder`` (not yet created) for a writer that makes a whole folder itself (Spark's
    Parquet writer), renamed to ``folder`` when the block succeeds. If the block fails, what it wrote
    is removed and ``folder`` is left as it was: never a half-written folder, and an old one is lost
    only when the new one is complete.

    Raises
    ------
    OutputExistsError
        ``folder`` is not empty and ``overwrite`` is false.
    """
    target = Path(folder).absolute()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise type(err)(err.errno, err.strerror, str(target)) from err
    clean_stale_partials(target)
    if target.exists() and not target.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "it is a file, not a folder", str(target))
    if target.is_dir() and any(target.iterdir()) and not overwrite:
        raise OutputExistsError(f"{str(target)!r} exists; pass --force to overwrite it or choose another path",
                                path=str(target))
    try:
        cwd: Path | None = Path.cwd().resolve()
    except OSError:  # the working directory was deleted
        cwd = None
    if cwd is not None and target.is_dir() and (cwd == target.resolve() or target.resolve() in cwd.parents):
        raise OutputExistsError(
            f"{str(target)!r} holds the working directory: it is written as a new folder in its place, "
            "which would leave this shell in a deleted folder. Run from outside it, or write elsewhere",
            path=str(target),
        )
    try:
        stage = Path(tempfile.mkdtemp(prefix=f".{target.name}.{_writer_id()}.", suffix=".partial",
                                      dir=target.parent))
    except OSError as err:
        raise type(err)(err.errno, err.strerror, str(target)) from err
    try:
        public_mode(stage)
        written = stage / target.name
        yield written
        if target.is_dir() and not any(target.iterdir()):
            _keep_mode_and_group(target, written)  # an empty private folder made for it stays private
            target.rmdir()
        if target.exists():
            _keep_mode_and_group(target, written)
            _exchange(written, target)  # now ``written`` holds the old folder, removed below
        else:
            os.replace(written, target)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _keep_mode_and_group(old: Path, new: Path) -> None:
    """Give the folder that replaces ``old`` its permissions and group (a private 0700 folder stays private,
    a setgid one keeps its group); best effort where the filesystem or the user's rights refuse."""
    with suppress(OSError):
        info = old.stat()
        if new.exists():
            with suppress(OSError):
                os.chown(new, -1, info.st_gid)
            os.chmod(new, stat.S_IMODE(info.st_mode))


def _carry_over_foreign(old: Path, stage: Path, files: Mapping[str, str | bytes | Path]) -> None:
    """Link the user's own entries (not onnxgate's, old or new) from ``old`` into ``stage``."""
    ours = {Path(rel).parts[0] for rel in files} | {"manifest.json"} | _listed_by_an_onnxgate_manifest(old)
    for entry in old.iterdir():
        if entry.name in ours:
            continue
        dest = stage / entry.name
        try:
            if entry.is_symlink():
                os.symlink(os.readlink(entry), dest)
            elif entry.is_dir():
                shutil.copytree(entry, dest, symlinks=True, copy_function=_link_or_copy)
            else:
                _link_or_copy(str(entry), str(dest))
        except OSError as err:
            raise type(err)(err.errno, err.strerror, str(entry)) from err


def _listed_by_an_onnxgate_manifest(folder: Path) -> set[str]:
    """The top-level entries an earlier onnxgate package in ``folder`` listed in its ``manifest.json`` (``files``),
    which ``--force`` replaces; none when that manifest is not onnxgate's (no ``versions.onnxgate``). Another tool's
    ``manifest.json`` (a web app's) lists the user's own files: read as onnxgate's, ``package --force`` deleted
    them (helper-410)."""
    import json

    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    versions = manifest.get("versions") if isinstance(manifest, dict) else None
    listed = manifest.get("files") if isinstance(versions, dict) and "onnxgate" in versions else None
    return {Path(str(rel)).parts[0] for rel in listed if Path(str(rel)).parts} if isinstance(listed, list) else set()


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst, follow_symlinks=False)
    except OSError:
        shutil.copy2(src, dst, follow_symlinks=False)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> None:
    """Swap two folders: one atomic ``renameat2(RENAME_EXCHANGE)`` on Linux, else two renames."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        renameat2 = None
    if renameat2 is not None:
        result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
        if result == 0:
            return
        code = ctypes.get_errno()
        if code not in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise OSError(code, os.strerror(code), str(b))
    aside = a.with_name(a.name + ".old")  # beside ``a``, in its staging folder
    os.rename(b, aside)
    try:
        os.rename(a, b)
    except BaseException:
        os.rename(aside, b)
        raise
    os.rename(aside, a)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


#: A staging folder whose writer cannot be asked (another machine on a shared file system, or a name
#: without a process id) counts as stale once untouched for this long.
_STALE_SECONDS = 3600.0


def _host_tag() -> str:
    import hashlib
    import socket

    return hashlib.sha256(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]


def _writer_id() -> str:
    """``<pid>@<host hash>``: enough to tell later whether the writer of a staging folder still runs."""
    return f"{os.getpid()}@{_host_tag()}"


def clean_stale_partials(target: str | os.PathLike[str], suffix: str = ".partial") -> list[Path]:
    """Remove staging folders (``suffix`` ``.tmp``: temporary files) beside ``target`` left by writers that
    died; return what was removed.

    A staging folder's name carries its writer's process id and a hash of its host name: it is
    stale when that process is gone from this host. One in use by a live writer (even another
    onnxgate process) is left alone; one written from another host (a shared file system) is
    removed only after :data:`_STALE_SECONDS` untouched.
    """
    import glob
    import time

    target = Path(target)
    removed: list[Path] = []
    try:
        siblings = list(target.parent.glob(f".{glob.escape(target.name)}.*{suffix}"))
    except OSError:
        return removed
    for stage in siblings:
        middle = stage.name[len(target.name) + 2 : -len(suffix)].split(".")
        stale = False
        pid, _, host = middle[0].partition("@")
        if len(middle) >= 2 and pid.isdigit() and host in ("", _host_tag()):
            stale = not _pid_alive(int(pid))
        else:
            with suppress(OSError):
                stale = time.time() - stage.lstat().st_mtime > _STALE_SECONDS
        if stale and not stage.is_symlink() and (stage.is_dir() or stage.is_file()):
            if stage.is_dir():
                shutil.rmtree(stage, ignore_errors=True)
            else:
                with _ignore_missing():
                    stage.unlink()
            removed.append(stage)
    return removed


@contextmanager
def _ignore_missing() -> Iterator[None]:
    with suppress(FileNotFoundError):
        yield


#: The most bytes of a model onnxgate takes: protobuf cannot serialize a message of 2 GiB or more (an ONNX file
#: above it keeps its weights in external data files), onnxgate checks and packages a model as one serialized
#: file, and T-SQL ``PREDICT`` reads the model from one ``varbinary(max)``, which holds at most 2**31-1 bytes.
MODEL_BYTES_LIMIT = 2**31 - 1


def too_large_message(what: str, size: int) -> str:
    """Why a model of ``size`` bytes (above :data:`MODEL_BYTES_LIMIT`) is refused, and what to do."""
    return (
        f"{what} is {size:,} bytes, above the {MODEL_BYTES_LIMIT:,} bytes (2 GiB) onnxgate can check and package here: "
        "protobuf cannot write one model that large, and PREDICT in SQL reads a model from one varbinary(max) of at "
        "most that size. Above it, only an .onnx file given by its path with its weights in external data files is "
        "validated and packaged, for the onnxruntime and container targets, and scored (onnxgate score, on one "
        "machine or on Spark). Otherwise make the model smaller than 2 GiB (fewer weights, or float16/int8 weights)"
    )


#: What :func:`serialized_once` holds: ``[model, its serialization once made, that serialization's SHA-256 once
#: computed, {check_type: strict inference's outcome}]``; ``[None, ...]`` in :func:`loaded_once` until a model is held.
_SERIALIZED: contextvars.ContextVar[list[Any] | None] = contextvars.ContextVar("onnxgate_serialized", default=None)
#: The model :func:`loaded_once` holds: ``[what was given, the ModelProto loaded from it or None until then, the
#: external data files it was read from]``.
_LOADED: contextvars.ContextVar[list[Any] | None] = contextvars.ContextVar("onnxgate_loaded", default=None)


#: What :func:`weights_by_path` holds: ``id(model) -> (model, its .onnx file, its bytes with its external data)`` for
#: each model loaded in the block without its weights (the model is held, so its id is not reused in the block).
_BY_PATH: contextvars.ContextVar[dict[int, tuple[Any, Path, int]] | None] = contextvars.ContextVar(
    "onnxgate_by_path", default=None)


@contextmanager
def weights_by_path(enabled: bool = True) -> Iterator[None]:
    """Within the block, :func:`load_model` of a path whose external data take the model above
    :data:`MODEL_BYTES_LIMIT` leaves the weights in their files, not refusing the model: the model is held without
    them (its graph, and its initializers' names, types, dims and locations), is checked as it is (the checker on
    its path, shape inference without the weights) and run by onnxruntime from its path (:func:`runnable`). A
    block inside one shares its models; ``enabled=False``: refused as outside one (a SQL target's block: ``PREDICT``
    reads a model from one ``varbinary(max)``)."""
    if enabled and _BY_PATH.get() is not None:
        yield
        return
    token = _BY_PATH.set({} if enabled else None)
    try:
        yield
    finally:
        _BY_PATH.reset(token)


def weights_path(model: Any) -> Path | None:
    """The .onnx file ``model`` was loaded from, without its weights, in :func:`weights_by_path`; None for any other
    model (one held whole)."""
    held = _BY_PATH.get()
    entry = held.get(id(model)) if held is not None else None
    return entry[1] if entry is not None and entry[0] is model else None


def weights_left_in_files(model: Any) -> tuple[Path, int] | None:
    """``(its .onnx file, its bytes with its external data)`` for a model :func:`weights_path` names; else None."""
    held = _BY_PATH.get()
    entry = held.get(id(model)) if held is not None else None
    return (entry[1], entry[2]) if entry is not None and entry[0] is model else None


def runnable(model: onnx.ModelProto) -> bytes | str:
    """What onnxruntime loads ``model`` from: its file's path for a model held without its weights
    (:func:`weights_path`), which onnxruntime reads with its external data; else :func:`serialize`'s bytes."""
    path = weights_path(model)
    return str(path) if path is not None else serialize(model)


def serialize(model: onnx.ModelProto) -> bytes:
    """Serialize a model as one self-contained file (external data folded back in); within
    :func:`serialized_once` of ``model``, the same bytes each time."""
    held = _SERIALIZED.get()
    if held is None or held[0] is not model:
        return bytes(model.SerializeToString())
    if held[1] is None:
        held[1] = bytes(model.SerializeToString())
    return held[1]  # type: ignore[no-any-return]


def sha256_of(data: bytes) -> str:
    """``hashlib.sha256(data).hexdigest()``; of :func:`serialize`'s bytes within :func:`serialized_once`, computed
    once (a package's manifest, its ``score.py`` and its ``load_model.py`` each record the model's hash: 0.5 s each
    for a 200 MB model)."""
    import hashlib

    held = _SERIALIZED.get()
    if held is None or held[1] is None or held[1] is not data:
        return hashlib.sha256(data).hexdigest()
    if held[2] is None:
        held[2] = hashlib.sha256(data).hexdigest()
    return held[2]  # type: ignore[no-any-return]


#: The largest serialization :func:`model_fact` remembers answers for: hashing it takes microseconds (a model of many
#: megabytes is hashed by validate once already, but is not validated hundreds of times in a row).
FACT_MODEL_BYTES = 2**20
#: How many answers :func:`model_fact` keeps (the last ones asked).
FACTS_KEPT = 64
_FACTS: dict[tuple[str, str], Any] = {}
_FACTS_LOCK = threading.Lock()


def model_fact(proto: onnx.ModelProto, name: str, compute: Callable[[onnx.ModelProto], Any]) -> Any:
    """``compute(proto)``, a function of the model's bytes alone (``name`` says which), remembered across the
    validations of the same bytes: within :func:`serialized_once` of ``proto`` (whose serialization is made once
    anyway), for a model of at most :data:`FACT_MODEL_BYTES` that holds its weights, by the SHA-256 of its
    serialization, so an edited model (in place too) is another key. A copy is handed back each time: a caller's
    change of it is not kept. Validating the iris LogisticRegression again, the rows scan
    (:func:`onnxgate.validators.rows_mixed.scan_rows`: shape inference) took 0.5 ms of 11; the pytest plugin and the
    Hypothesis strategies validate a model many times. Elsewhere, ``compute(proto)``."""
    import copy

    held = _SERIALIZED.get()
    if held is None or held[0] is not proto:
        return compute(proto)
    # the block's one serialization, not ByteSize(): protobuf's upb runtime serializes the message to size it, which
    # held another copy of a 200 MB model at validate's peak (1.16 GB where 0.87 GB)
    data = serialize(proto)
    if len(data) > FACT_MODEL_BYTES or next(_external_tensors(proto), None) is not None:  # weights in files
        return compute(proto)
    key = (name, sha256_of(data))
    with _FACTS_LOCK:
        found = _FACTS.pop(key, _FACTS)
        if found is not _FACTS:
            _FACTS[key] = found  # the last asked, last out
    if found is _FACTS:
        found = compute(proto)
        with _FACTS_LOCK:
            _FACTS[key] = found
            while len(_FACTS) > FACTS_KEPT:
                del _FACTS[next(iter(_FACTS))]
    return copy.deepcopy(found)


@contextmanager
def serialized_once(proto: onnx.ModelProto) -> Iterator[None]:
    """Within the block, :func:`serialize` serializes ``proto`` once and hands back those bytes each time it is
    asked: the checks of one validation (the checker, onnxruntime's sessions, the hash) read one serialization
    of the model, which must not change in the block (a check never changes its model). Each serialization of a
    500 MB model took 1-2 s and held another 500 MB. Strict shape inference of ``proto`` runs once in the block
    too (:func:`infer_shapes_strict`).

    Within a block of the same ``proto`` (or of :func:`loaded_once`, whose model it is), the outer block's
    serialization is used and kept: a package's validation and the package read one."""
    held = _SERIALIZED.get()
    if held is not None and (held[0] is proto or (held[0] is None and _loaded_proto() is proto)):
        held[0] = proto
        yield
        return
    token = _SERIALIZED.set([proto, None, None, {}])
    try:
        yield
    finally:
        _SERIALIZED.reset(token)


def _loaded_proto() -> Any:
    held = _LOADED.get()
    return None if held is None else held[1]


@contextmanager
def loaded_once(model: ModelLike, proto: onnx.ModelProto | None = None) -> Iterator[None]:
    """Within the block, :func:`load_model` of ``model`` (the same object: a path, bytes) loads it once (or hands
    back ``proto``, when it is given as already loaded) and :func:`serialized_once` of the model loaded serializes
    it once for the whole block. A package validates its model, then writes it: it read, parsed and checked a
    200 MB file twice and serialized it twice (3-4 s of the 10 s a package took)."""
    loaded = _LOADED.set([model, proto, []])
    serialized = _SERIALIZED.set([None, None, None, {}])
    try:
        yield
    finally:
        _SERIALIZED.reset(serialized)
        _LOADED.reset(loaded)


#: Initializers of more than this many bytes are handed to strict shape inference without their values
#: (:func:`infer_shapes_strict`).
WEIGHTLESS_BYTES = 2**16


def infer_shapes_strict(proto: onnx.ModelProto, *, check_type: bool = False) -> onnx.ModelProto:
    """``onnx.shape_inference.infer_shapes(proto, check_type=check_type, strict_mode=True)``, with the same result
    and the same error, without copying the weights: inference reads an initializer's type and dims, and its
    values only where a shape function reads them as data (a Reshape's shape), which onnx refuses for a tensor
    whose values are not held ("Cannot parse data from external tensors"). So it runs first on a copy whose
    initializers of more than :data:`WEIGHTLESS_BYTES` hold no values (marked as external data), and, when that
    raises for any reason, on the whole model, whose error is the one raised. Inference serialized the model,
    parsed it, wrote its answer and parsed that: four more copies of a 500 MB model's weights, and 2-3 s.

    The model returned holds the types inference found; its large initializers may hold no values. Within
    :func:`serialized_once` of ``proto`` inference runs once (``model_wellformed`` and ``outputs_one_value_per_row``
    both ask for it), an answer with ``check_type`` serves a call without it, and the model returned holds what
    inference found (the graph's inputs, outputs, value_info and the metadata) but no nodes or initializers; the
    same object each time, to be read, not changed.

    Raises
    ------
    onnx.shape_inference.InferenceError
        As ``onnx.shape_inference.infer_shapes`` on the whole model.
    """
    held = _SERIALIZED.get()
    if held is None or held[0] is not proto:
        return _infer_shapes_strict(proto, check_type=check_type)
    outcomes: dict[bool, Any] = held[3]
    # a model that passes with check_type passes without, with the same types: check_type adds errors, not types
    outcome = outcomes.get(check_type, outcomes.get(True) if not check_type else None)
    if outcome is None or (isinstance(outcome, BaseException) and check_type not in outcomes):
        try:
            outcome = _types_only(_infer_shapes_strict(proto, check_type=check_type))
        except Exception as err:
            outcome = err
        outcomes[check_type] = outcome
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


def _types_only(inferred: onnx.ModelProto) -> onnx.ModelProto:
    """``inferred`` without its graph's nodes and initializers: what inference found (the inputs', outputs' and
    value_info's types, the metadata) in a few kilobytes. Kept whole, inference's answer for a tree ensemble (its
    trees are node attributes, every one copied) held another copy of the model through the validation: a 96 MB
    forest's peaked at 2.5 GB, not 2.0."""
    import onnx

    slim = onnx.ModelProto()
    _copy_fields(inferred, slim, leave={"graph"})
    _copy_fields(inferred.graph, slim.graph, leave={"node", "initializer", "sparse_initializer"})
    return slim


def _infer_shapes_strict(proto: onnx.ModelProto, *, check_type: bool) -> onnx.ModelProto:
    import onnx

    light = _weightless(proto)
    if light is not None:
        # any error (a shape function reading a value left out, or the model's own): the whole model says it below
        with suppress(Exception):
            return onnx.shape_inference.infer_shapes(light, check_type=check_type, strict_mode=True)
    return onnx.shape_inference.infer_shapes(serialize(proto), check_type=check_type, strict_mode=True)


def _held_bytes(tensor: Any) -> int:
    """The bytes ``tensor``'s values take by its type and dims (0 for external data or a type of no fixed size),
    without reading them."""
    if tensor.data_location == 1:  # EXTERNAL
        return 0
    count = 1
    for dim in tensor.dims:
        count *= max(int(dim), 0)
    return count * _FIXED_ITEMSIZE.get(tensor.data_type, 0)


def types_inferred(proto: onnx.ModelProto) -> onnx.ModelProto:
    """``onnx.shape_inference.infer_shapes(proto)`` (not strict) run on a copy whose large initializers hold no values
    (:func:`_weightless`), for the element types it finds; on the whole model when that copy fails, and ``proto``
    itself when inference fails. The answer's large initializers may hold no values: read types from it, not weights.
    Inference on the whole model copied a 192 MB model's weights twice: validate for a SQL target peaked at 1.44x
    the memory of loading and running it."""
    import onnx

    for candidate in (_weightless(proto), proto):
        if candidate is None:
            continue
        try:
            return onnx.shape_inference.infer_shapes(candidate)
        except Exception:
            continue
    return proto


def _weightless(proto: onnx.ModelProto) -> onnx.ModelProto | None:
    """A copy of ``proto`` whose main graph's initializers of more than :data:`WEIGHTLESS_BYTES` keep their name,
    type and dims but no values, marked as external data (:func:`infer_shapes_strict`); None when it has none."""
    import onnx

    graph = proto.graph
    if not any(_held_bytes(t) > WEIGHTLESS_BYTES for t in graph.initializer):
        return None
    light = onnx.ModelProto()
    _copy_fields(proto, light, leave="graph")
    _copy_fields(graph, light.graph, leave="initializer")
    for tensor in graph.initializer:
        if _held_bytes(tensor) <= WEIGHTLESS_BYTES:
            light.graph.initializer.append(tensor)
            continue
        shell = light.graph.initializer.add()
        shell.name, shell.data_type = tensor.name, tensor.data_type
        shell.dims.extend(tensor.dims)
        shell.data_location = onnx.TensorProto.EXTERNAL
        entry = shell.external_data.add()
        entry.key, entry.value = "location", "onnxgate-values-left-out"
    return light


def _copy_fields(source: Any, dest: Any, *, leave: str | set[str]) -> None:
    """Copy every set field of the message ``source`` into ``dest`` but ``leave`` (a field's name, or names)."""
    for field, value in source.ListFields():
        if field.name == leave or (isinstance(leave, set) and field.name in leave):
            continue
        # protobuf 7 has only is_repeated; 6.31 (the oldest onnxgate takes) may lack it and has label
        repeated = field.is_repeated if hasattr(field, "is_repeated") else field.label == field.LABEL_REPEATED
        if repeated:
            getattr(dest, field.name).extend(value)
        elif field.type == field.TYPE_MESSAGE:
            getattr(dest, field.name).CopyFrom(value)
        else:
            setattr(dest, field.name, value)


def sparse_initializer_names(proto: onnx.ModelProto) -> list[str]:
    """The names of the sparse initializers of ``proto``'s graph and subgraphs (``graph.sparse_initializer``)."""
    return [sparse.values.name for graph in all_graphs(proto.graph) for sparse in graph.sparse_initializer]


def densify_sparse_initializers(proto: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of ``proto`` whose sparse initializers are dense initializers of the same name, type and shape;
    ``proto`` itself when it has none.

    onnxruntime densifies them when it loads a file (from 1.6, microsoft/onnxruntime#5540; float only until
    1.8, #7004), so the copy computes the same answers. onnx's strict shape inference does not: it types a sparse
    initializer ``sparse_tensor(float)`` and refuses the ``Mul`` that reads it, which a runtime never sees.

    Raises
    ------
    InvalidModelError
        A sparse initializer whose indices do not fit its shape, or whose dense form is larger than
        :data:`MODEL_BYTES_LIMIT` (a model holding it could not be checked or packaged, and a hostile file's dims,
        which ``_check_dims`` does not size for sparse tensors, could otherwise ask for any amount of memory).
    """
    import onnx

    if not sparse_initializer_names(proto):
        return proto
    copy = onnx.ModelProto()
    copy.CopyFrom(proto)
    for graph in all_graphs(copy.graph):
        dense = [_dense_tensor(sparse) for sparse in graph.sparse_initializer]
        del graph.sparse_initializer[:]
        graph.initializer.extend(dense)
    return copy


def _dense_tensor(sparse: Any) -> Any:
    import numpy as np
    from onnx import numpy_helper

    name = sparse.values.name
    values = numpy_helper.to_array(sparse.values).reshape(-1)
    indices = numpy_helper.to_array(sparse.indices).astype(np.int64) if sparse.HasField("indices") else None
    shape = tuple(int(d) for d in sparse.dims)
    count = int(np.prod(shape, dtype=object)) if shape else 1
    size = count * max(values.dtype.itemsize, 1)
    if size > MODEL_BYTES_LIMIT:
        raise InvalidModelError(
            f"sparse initializer {name!r} of shape {list(shape)} is {size:,} bytes dense (onnxruntime densifies "
            f"sparse initializers when it loads a file), more than the {MODEL_BYTES_LIMIT:,} bytes (2 GiB) "
            "onnxgate can check and package"
        )
    flat = np.full(count, "" if values.dtype == object else 0, dtype=values.dtype)
    if indices is not None and indices.size:
        # indices are [NNZ] positions in the flattened tensor, or [NNZ, rank] coordinates (ONNX SparseTensorProto)
        positions = np.ravel_multi_index(tuple(indices.T), shape) if indices.ndim == 2 else indices.reshape(-1)
        if positions.size != values.size or positions.min() < 0 or positions.max() >= count:
            raise InvalidModelError(
                f"sparse initializer {name!r}: its {positions.size} indices do not place its {values.size} values "
                f"in shape {list(shape)}; the file is corrupt, re-export the model"
            )
        flat[positions] = values
    elif values.size:
        raise InvalidModelError(f"sparse initializer {name!r} has {values.size} values and no indices; re-export it")
    return numpy_helper.from_array(flat.reshape(shape), name)


#: The first IR version whose initializers need not be graph inputs (an IR 3 file lists every initializer as one).
INITIALIZERS_APART_IR_VERSION = 4


def list_initializers(proto: onnx.ModelProto) -> None:
    """List ``proto``'s initializers as graph inputs where its IR version asks for it (IR 3 lists every
    initializer as one), in place: onnxgate's rewrites add constants (a SQL adaptation's label column shape, a
    LabelEncoder's table of values for a target's older onnxruntime), and an opset-8 model is stamped IR 3. They
    stay constants, no input a caller feeds (:meth:`onnxgate.signature.Signature.from_model` leaves initializers
    out)."""
    from onnx import helper

    if int(proto.ir_version) >= INITIALIZERS_APART_IR_VERSION:
        return
    inputs = {i.name for i in proto.graph.input}
    for init in proto.graph.initializer:
        if init.name not in inputs:
            proto.graph.input.append(helper.make_tensor_value_info(init.name, init.data_type, list(init.dims)))
            inputs.add(init.name)


def repair_layout(proto: onnx.ModelProto) -> tuple[onnx.ModelProto, list[str]]:
    """A copy of ``proto`` laid out as the ONNX spec asks, with one sentence per repair; ``(proto, [])`` when it
    needs none.

    Two layouts onnxruntime runs and the ONNX checker refuses are repaired, neither changing an answer:

    * nodes out of topological order (some exporters write a node before the ones it reads): onnxruntime
      sorts them when it loads the file; the copy holds them sorted, keeping the file's order wherever it can.
      A graph whose nodes read each other in a cycle is left as it is (the checker's refusal stands).
    * an IR 3 file whose initializers are not all graph inputs (IR 3 lists every initializer as one): the copy
      lists them, as the exporters of IR 3 did; onnxruntime reads them as the same constants, and they are no
      input a caller feeds (:meth:`onnxgate.signature.Signature.from_model` leaves initializers out).

    Both in the main graph only: onnxruntime refuses either layout in a subgraph (an ``If`` branch, a ``Loop`` or
    ``Scan`` body: "Nodes in a graph must be topologically sorted", "in initializer but not in graph input"), so
    a subgraph is left as it is and ``model_wellformed`` fails as onnxruntime does; it passed "once repaired",
    of a file onnxruntime would not load (helper-292).
    """
    import onnx
    from onnx import helper

    # what to repair is found on ``proto`` itself: the copy (another 500 MB for a 500 MB model, and 0.5-1 s) is
    # made only when there is something to repair
    order, moved = _topological_order(proto.graph)
    listed: list[Any] = []
    if int(proto.ir_version) < INITIALIZERS_APART_IR_VERSION:
        inputs = {i.name for i in proto.graph.input}
        listed = [init for init in proto.graph.initializer if init.name not in inputs]
    if order is None and not listed:
        return proto, []
    copy = onnx.ModelProto()
    copy.CopyFrom(proto)
    notes: list[str] = []
    if order is not None:
        sorted_nodes = [copy.graph.node[i] for i in order]
        del copy.graph.node[:]
        copy.graph.node.extend(sorted_nodes)
        notes.append(f"nodes were not in topological order ({moved}); onnxgate sorted them")
    if listed:
        for init in listed:
            copy.graph.input.append(helper.make_tensor_value_info(init.name, init.data_type, list(init.dims)))
        names = [init.name for init in listed]
        shown = ", ".join(repr(n) for n in names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        notes.append(f"IR version {copy.ir_version} lists every initializer as a graph input and {shown} "
                     "were not; onnxgate listed them (constants still: no input a caller feeds)")
    return copy, notes


def _reads(node: Any) -> set[str]:
    """The names ``node`` reads: its inputs and the outer-scope names its subgraphs read."""
    names = {n for n in node.input if n}
    for _, sub in node_subgraphs(node):
        for graph in all_graphs(sub):
            for inner in graph.node:
                names.update(n for n in inner.input if n)
    return names


def _topological_order(graph: Any) -> tuple[list[int] | None, str]:
    """The order to put ``graph``'s nodes in, topological, each node as early in the file's order as its inputs
    allow (a node holding a subgraph after the nodes whose outputs the subgraph reads), and the description of
    the first node out of order; ``(None, "")`` when they are in order already, or read each other in a cycle
    (left as they are). ``graph`` is only read; its subgraphs are not sorted (:func:`repair_layout`)."""
    import heapq

    nodes = list(graph.node)
    producer = {out: i for i, node in enumerate(nodes) for out in node.output if out}
    needs = [{producer[n] for n in _reads(node) if n in producer and producer[n] != i} for i, node in enumerate(nodes)]
    if not any(j > i for i, need in enumerate(needs) for j in need):
        return None, ""
    readers: dict[int, list[int]] = {}
    for i, need in enumerate(needs):
        for j in need:
            readers.setdefault(j, []).append(i)
    waiting = [len(need) for need in needs]
    ready = [i for i, count in enumerate(waiting) if count == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for k in readers.get(i, []):
            waiting[k] -= 1
            if waiting[k] == 0:
                heapq.heappush(ready, k)
    if len(order) != len(nodes):
        return None, ""
    i, j = next((i, j) for i, need in enumerate(needs) for j in sorted(need) if j > i)
    read = next(n for n in _reads(nodes[i]) if producer.get(n) == j)
    return order, (f"node {nodes[i].name or nodes[i].op_type!r} read {read!r} before node "
                   f"{nodes[j].name or nodes[j].op_type!r} wrote it")
