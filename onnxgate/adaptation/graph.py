"""Graph edits the adaptation is made of: names, shapes and element types of values, renaming a value
everywhere, placing new nodes, and the class labels of a classifier's probability columns."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from onnxgate._onnx import node_subgraphs
from onnxgate.errors import InvalidDataError, UnsupportedModelError
from onnxgate.sql_rules import TYPE_FIXES

if TYPE_CHECKING:
    import onnx

    from onnxgate.targets import Target

__all__ = [
    "FALLBACK_TYPE",
    "batch_dim",
    "check_rewritten",
    "class_labels",
    "class_labels_per_target",
    "column_type",
    "dtype_to_elem",
    "elem_code",
    "elem_name",
    "graph_names",
    "infer_shapes",
    "place_nodes",
    "rename_tensor",
    "shape_of",
    "zipmap_width",
]

#: Element type a column or output is written in when the model's own is not allowed by the target:
#: the validators' suggested fix, for the types that have one ("string" has advice, not a type).
FALLBACK_TYPE = {k: v for k, v in TYPE_FIXES.items() if k != "string"}


def dtype_to_elem(dtype: Any) -> str:
    """onnxgate element type for a numpy/pandas dtype of a table column."""
    import numpy as np

    categories = getattr(dtype, "categories", None)
    if categories is not None:  # a pandas category column holds values of its categories' type
        return dtype_to_elem(categories.dtype)
    try:
        kind = np.dtype(dtype).kind
        size = np.dtype(dtype).itemsize
    except TypeError:  # pandas extension dtypes (string, nullable ints)
        text = str(dtype).lower()
        if text in ("boolean", "bool[pyarrow]"):  # nullable booleans: as numpy's bool, a bigint column
            return "int64"
        if "int" in text:
            return "int64" if "64" in text or text in ("int", "int64") else "int32"
        if "float" in text:
            return "float32" if "32" in text else "float64"
        return "string"
    if kind == "f":
        return "float32" if size <= 4 else "float64"
    if kind == "i":
        return "int32" if size <= 4 else "int64"
    if kind in "ub":
        return "int64"
    return "string"


def column_type(model_type: str, declared: str | None, target: Target, column: str | None = None,
                tokenized: bool = False) -> str:
    """The column type of an input the model reads as ``model_type``; ``tokenized``: a text vectorizer reads it."""
    allowed = target.input_types
    which = f"column {column!r}: " if column else ""
    if tokenized and target.max_opset is not None and "com.microsoft" not in target.max_opset:
        # synapse takes text columns, but not the com.microsoft Tokenizer a text vectorizer needs: converting for
        # it gave a file its own opset_within_caps check failed (helper-378)
        raise UnsupportedModelError(
            f"{which}the model reads string values and splits them into words with a text vectorizer "
            "(CountVectorizer, TfidfVectorizer), whose ONNX Tokenizer is of the domain com.microsoft, which the "
            f"runtime of target {target.name!r} does not have (no SQL target's has it, though synapse takes text "
            "columns): turn the text into numeric columns before the model, or deploy it to a target that runs it "
            "(container, mlflow, onnxruntime)"
        )
    if declared is not None:
        if allowed is not None and declared not in allowed:
            raise InvalidDataError(
                f"column type {declared!r} is not accepted by target {target.name!r}; "
                f"expected one of {sorted(allowed)}"
            )
        return declared
    if allowed is None or model_type in allowed:
        return model_type
    fallback = FALLBACK_TYPE.get(model_type)
    if fallback is None or fallback not in allowed:
        fix = (" Encode it as numbers before training (a category as integer codes, for instance), or use a "
               "target that takes text (synapse)" if model_type == "string" else "")
        raise UnsupportedModelError(
            f"{which}the model reads {model_type} values, and target {target.name!r} has no column type that "
            f"can be cast to it (allowed: {sorted(allowed)}).{fix}"
        )
    return fallback


def elem_code(name: str) -> int:
    from onnxgate.signature import elem_type_code

    return elem_type_code(name)


def elem_name(code: int) -> str:
    from onnxgate.signature import elem_type_name

    return elem_type_name(code)


def graph_names(graph: onnx.GraphProto) -> set[str]:
    from onnxgate._graph import graph_names

    return graph_names(graph)


def rename_tensor(graph: onnx.GraphProto, old: str, new: str) -> None:
    """Rename a value everywhere in the main graph (node inputs/outputs, initializers, value_info)."""
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name == old:
                node.input[i] = new
        for i, name in enumerate(node.output):
            if name == old:
                node.output[i] = new
        rename_in_subgraphs(node, old, new)
    for init in graph.initializer:
        if init.name == old:
            init.name = new
    for vi in list(graph.value_info) + list(graph.input) + list(graph.output):
        if vi.name == old:
            vi.name = new


def rename_in_subgraphs(node: Any, old: str, new: str) -> None:
    # Subgraphs (If/Loop/Scan bodies) may read outer values by name.
    for _, sub in node_subgraphs(node):
        for inner in sub.node:
            for i, name in enumerate(inner.input):
                if name == old:
                    inner.input[i] = new
            rename_in_subgraphs(inner, old, new)


def shape_of(vi: Any) -> tuple[Any, ...] | None:
    tt = vi.type.tensor_type
    if not tt.HasField("shape"):
        return None
    dims: list[Any] = []
    for d in tt.shape.dim:
        if d.HasField("dim_value"):
            dims.append(int(d.dim_value))
        elif d.dim_param:
            dims.append(d.dim_param)
        else:
            dims.append(None)
    return tuple(dims)


def batch_dim(shape: tuple[Any, ...] | None) -> Any:
    if shape and shape[0] is not None and not isinstance(shape[0], str):
        return shape[0]
    return "N"


def class_labels(model: onnx.ModelProto, reference: Any, conversion: Any = None) -> list[str] | None:
    """Class names in probability-column order: a ZipMap's labels, else the reference's ``classes_``."""
    for node in model.graph.node:
        if node.op_type == "ZipMap":
            for attr in node.attribute:
                if attr.name == "classlabels_strings" and attr.strings:
                    return [s.decode("utf-8", "replace") for s in attr.strings]
                if attr.name == "classlabels_int64s" and attr.ints:
                    return [str(i) for i in attr.ints]
    for candidate in (reference, getattr(conversion, "source", None)):
        classes = getattr(candidate, "classes_", None)
        if _per_target(classes) is not None:
            return None  # one array per target: class_labels_per_target's
        if classes is not None:
            return [str(c) for c in list(classes)]
    return None


def class_labels_per_target(reference: Any, conversion: Any = None) -> list[list[str]] | None:
    """A multi-output classifier's class names, one list per target (MultiOutputClassifier's ``classes_``), or
    None; a plain classifier's are :func:`class_labels`'."""
    for candidate in (reference, getattr(conversion, "source", None)):
        per_target = _per_target(getattr(candidate, "classes_", None))
        if per_target is not None:
            return per_target
    return None


def _per_target(classes: Any) -> list[list[str]] | None:
    if isinstance(classes, list) and classes and all(getattr(c, "ndim", 0) == 1 for c in classes):
        return [[str(c) for c in target] for target in classes]
    return None


def zipmap_width(node: Any) -> int:
    for attr in node.attribute:
        if attr.name == "classlabels_strings" and attr.strings:
            return len(attr.strings)
        if attr.name == "classlabels_int64s" and attr.ints:
            return len(attr.ints)
    return 0


def infer_shapes(model: onnx.ModelProto) -> tuple[dict[str, tuple[Any, ...] | None], dict[str, int]]:
    """Shapes and element types of every value shape inference can tell (best effort)."""
    import onnx

    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:  # shape inference is best effort; unknown shapes are reported by the caller
        inferred = model
    values = [vi for vi in list(inferred.graph.value_info) + list(inferred.graph.output)
              if vi.type.WhichOneof("value") == "tensor_type"]
    return {vi.name: shape_of(vi) for vi in values}, {vi.name: vi.type.tensor_type.elem_type for vi in values}


def place_nodes(graph: Any, new_nodes: list[Any], column_inputs: set[str]) -> None:
    """Insert the wrapper nodes so the graph stays topologically sorted.

    Input wrappers read only the new column inputs (and each other); they go first. Output wrappers
    read tensors of the body; they go last.
    """
    available = set(column_inputs) | {init.name for init in graph.initializer}
    head: list[Any] = []
    tail: list[Any] = []
    for node in new_nodes:
        if all(name in available for name in node.input if name):
            head.append(node)
            available.update(node.output)
        else:
            tail.append(node)
    body = list(graph.node)
    del graph.node[:]
    graph.node.extend(head + body + tail)


def check_rewritten(proto: Any) -> None:
    import onnx

    from onnxgate._onnx import list_initializers

    list_initializers(proto)  # IR 3 lists them as graph inputs: the rewrite's constants too
    try:
        onnx.checker.check_model(proto)
    except Exception as err:
        raise UnsupportedModelError(
            f"adapting the model for PREDICT produced a graph the ONNX checker rejects: {err}. "
            "Please report this with the model."
        ) from err
