"""Files tampered with on purpose, to prove a check catches what it claims. Shared by the converter tests."""

from __future__ import annotations

from typing import Any


def outputs_swapped(model: Any) -> Any:
    """A copy of ``model`` (an ``onnx.ModelProto``) listing its first two graph outputs in the other order: the
    same values under the same names, in the positions a client reading outputs by position gets swapped."""
    import onnx

    swapped = onnx.ModelProto()
    swapped.CopyFrom(model)
    first, second = onnx.ValueInfoProto(), onnx.ValueInfoProto()
    first.CopyFrom(swapped.graph.output[0])
    second.CopyFrom(swapped.graph.output[1])
    swapped.graph.output[0].CopyFrom(second)
    swapped.graph.output[1].CopyFrom(first)
    return swapped


def output_dropped(model: Any, output: str) -> Any:
    """A copy of ``model`` (an ``onnx.ModelProto``) without the graph output ``output``: every other output the
    model's own, the dropped one computed and never returned."""
    import onnx

    dropped = onnx.ModelProto()
    dropped.CopyFrom(model)
    kept = [o for o in dropped.graph.output if o.name != output]
    assert len(kept) < len(dropped.graph.output), f"no graph output {output!r}"
    del dropped.graph.output[:]
    dropped.graph.output.extend(kept)
    return dropped


def output_cast(model: Any, output: str, to: int) -> Any:
    """A copy of ``model`` (an ``onnx.ModelProto``) whose graph output ``output`` is cast to the ONNX element type
    ``to`` (``onnx.TensorProto.FLOAT``...) before it is returned: the same numbers, another type for a client."""
    import onnx

    cast = onnx.ModelProto()
    cast.CopyFrom(model)
    (spec,) = [o for o in cast.graph.output if o.name == output]
    before = f"{output}__before_cast"
    for node in cast.graph.node:
        node.output[:] = [before if name == output else name for name in node.output]
        node.input[:] = [before if name == output else name for name in node.input]
    cast.graph.node.append(onnx.helper.make_node("Cast", [before], [output], to=to))
    spec.type.tensor_type.elem_type = to
    return cast



def softmax_in_float32(model: Any) -> Any:
    """A copy of ``model`` (an ``onnx.ModelProto``) whose first Softmax computes in float32: its double input Cast
    to float32 and its answer back to double (FP05's edit), the same graph otherwise."""
    import copy

    import onnx

    edited = onnx.ModelProto()
    edited.CopyFrom(model)
    nodes = list(edited.graph.node)
    at = next(i for i, n in enumerate(nodes) if n.op_type == "Softmax")
    softmax = copy.deepcopy(nodes[at])
    source, answer = softmax.input[0], softmax.output[0]
    softmax.input[0], softmax.output[0] = "scores32", "softmax32"
    nodes[at:at + 1] = [onnx.helper.make_node("Cast", [source], ["scores32"], to=onnx.TensorProto.FLOAT), softmax,
                        onnx.helper.make_node("Cast", ["softmax32"], [answer], to=onnx.TensorProto.DOUBLE)]
    del edited.graph.node[:]
    edited.graph.node.extend(nodes)
    return edited

def string_renamed(model: Any, op_type: str, attribute: str, old: str, new: str) -> Any:
    """A copy of ``model`` whose ``op_type`` nodes hold ``new`` where their string ``attribute`` held ``old``: a
    category or a vocabulary word renamed by hand, the file otherwise the model's."""
    import onnx

    edited = onnx.ModelProto()
    edited.CopyFrom(model)
    renamed = 0
    for node in edited.graph.node:
        for a in node.attribute:
            if node.op_type == op_type and a.name == attribute and old.encode() in a.strings:
                a.strings[:] = [new.encode() if s == old.encode() else s for s in a.strings]
                renamed += 1
    assert renamed, f"no {op_type} {attribute} holds {old!r}"
    return edited


def integer_changed(model: Any, op_type: str, attribute: str, old: int, new: int) -> Any:
    """A copy of ``model`` whose ``op_type`` nodes hold ``new`` where their integer list ``attribute`` held ``old``:
    an integer category changed by hand (``cats_int64s``, ``keys_int64s``), the file otherwise the model's."""
    import onnx

    edited = onnx.ModelProto()
    edited.CopyFrom(model)
    changed = 0
    for node in edited.graph.node:
        for a in node.attribute:
            if node.op_type == op_type and a.name == attribute and old in a.ints:
                a.ints[:] = [new if i == old else i for i in a.ints]
                changed += 1
    assert changed, f"no {op_type} {attribute} holds {old}"
    return edited


def renamed_value_case(kind: str) -> tuple[Any, Any, Any, Any]:
    """The audit's OH03 and TF03 cases (``kind`` "category" or "word"): a fitted pipeline, its file, the file with a
    value renamed (OneHotEncoder category 'teal' -> 'purple' in a ColumnTransformer on a DataFrame; TfidfVectorizer
    word 'cold' -> 'colder'), and data that holds no row with the value, on which parity alone compared nothing
    that shows it."""
    import numpy as np

    import onnxgate as og

    if kind == "category":
        import pandas as pd
        from sklearn.compose import ColumnTransformer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        rng = np.random.default_rng(0)
        n = 400
        frame = pd.DataFrame({"color": rng.choice(["red", "green", "blue", "teal"], n),
                              "shape": rng.choice(["sq", "ci"], n), "size": rng.normal(0, 1, n)})
        y = (frame.color.isin(["red", "teal"]).astype(int) + (frame["size"] > 0.3) + (frame["shape"] == "sq")) % 2
        model = Pipeline([("ct", ColumnTransformer([("oh", OneHotEncoder(handle_unknown="ignore"), ["color", "shape"]),
                                                    ("num", StandardScaler(), ["size"])])),
                          ("clf", LogisticRegression(max_iter=500))]).fit(frame, y)
        file = og.convert(model, frame.head(20), opset=15).model
        edited = string_renamed(file, "OneHotEncoder", "cats_strings", "teal", "purple")
        return model, file, edited, frame[frame.color != "teal"].reset_index(drop=True)
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    docs = ["the cat sat on the mat", "dogs bark loudly at night", "a cat and a dog play", "the night is dark and cold",
            "cats purr when happy", "the dog chased the cat", "cold winds blow at night", "happy dogs wag tails"] * 8
    model = make_pipeline(TfidfVectorizer(), LogisticRegression(max_iter=500)).fit(docs, [0, 1, 0, 1, 0, 0, 1, 0] * 8)
    texts = np.array(docs, dtype=object).reshape(-1, 1)
    file = og.convert(model, texts[:5], opset=15).model
    edited = string_renamed(file, "TfIdfVectorizer", "pool_strings", "cold", "colder")
    return model, file, edited, np.array([d for d in docs if "cold" not in d], dtype=object).reshape(-1, 1)


def halved_above_rows(model: Any, rows: int, output: str = "probabilities") -> Any:
    """A copy of ``model`` (an ``onnx.ModelProto``) whose ``output`` is halved in a batch of more than ``rows`` rows (an
    If on the first input's batch size), the file as converted in smaller batches: a branch on the batch size
    edited in by hand, which the data's own batches cannot show when they are smaller."""
    import numpy as np
    from onnx import helper, numpy_helper

    edited, kind, converted = _output_renamed(model, output)
    half = np.array(0.5, dtype=helper.tensor_dtype_to_np_dtype(kind))
    edited.graph.initializer.extend([numpy_helper.from_array(np.array(rows, dtype=np.int64), "rows_limit"),
                                     numpy_helper.from_array(np.array([0], dtype=np.int64), "row_axis")])
    halved = helper.make_graph([helper.make_node("Mul", [converted, "half"], ["halved"])], "large", [],
                               [helper.make_tensor_value_info("halved", kind, None)],
                               [numpy_helper.from_array(half, "half")])
    kept = helper.make_graph([helper.make_node("Identity", [converted], ["kept"])], "small", [],
                             [helper.make_tensor_value_info("kept", kind, None)])
    edited.graph.node.extend([
        helper.make_node("Shape", [edited.graph.input[0].name], ["input_shape"]),
        helper.make_node("Gather", ["input_shape", "row_axis"], ["batch_1d"]),
        helper.make_node("Squeeze", ["batch_1d"], ["batch"]),
        helper.make_node("Greater", ["batch", "rows_limit"], ["large_batch"]),
        helper.make_node("If", ["large_batch"], [output], then_branch=halved, else_branch=kept)])
    return edited


def halved_above_rows_in_function(model: Any, rows: int, output: str = "probabilities") -> Any:
    """:func:`halved_above_rows` with the branch on the batch size moved into a model-local function (the main graph
    calls ``local.gate``, whose body holds the Shape and the If; the If's branches call ``local.halve``, a second
    function): the main graph holds no node that reads a batch size, only a call."""
    import onnx
    from onnx import helper

    branched = halved_above_rows(model, rows, output)
    edited = onnx.ModelProto()
    edited.CopyFrom(branched)
    edited.ir_version = max(edited.ir_version, 8)  # model-local functions came with IR 8
    gate_nodes = list(edited.graph.node)[-5:]
    del edited.graph.node[-5:]
    constants = {t.name: t for t in edited.graph.initializer}
    local_nodes = [helper.make_node("Constant", [], [name], value=constants[name])
                   for name in ("rows_limit", "row_axis")]
    # the If's large branch halves through a call to a second function, nested one deeper
    large = next(a.g for a in gate_nodes[-1].attribute if a.name == "then_branch")
    half = large.initializer[0]
    del large.initializer[:]
    large.node[0].CopyFrom(helper.make_node("halve", [f"{output}_converted"], ["halved"], domain="local"))
    halve = helper.make_function("local", "halve", ["x"], ["y"],
                                 [helper.make_node("Constant", [], ["half"], value=half),
                                  helper.make_node("Mul", ["x", "half"], ["y"])],
                                 [helper.make_opsetid("", 13)])
    first = edited.graph.input[0].name
    body = [*local_nodes, *gate_nodes]
    for node in body:
        node.input[:] = ["x" if name == first else "scores" if name == f"{output}_converted" else name
                         for name in node.input]
        node.output[:] = ["y" if name == output else name for name in node.output]
    for sub in (a.g for a in gate_nodes[-1].attribute):
        for node in sub.node:
            node.input[:] = ["scores" if name == f"{output}_converted" else name for name in node.input]
    gate = helper.make_function("local", "gate", ["x", "scores"], ["y"], body,
                                [helper.make_opsetid("", 13), helper.make_opsetid("local", 1)])
    keep = {"rows_limit", "row_axis"}
    kept = [t for t in edited.graph.initializer if t.name not in keep]
    del edited.graph.initializer[:]
    edited.graph.initializer.extend(kept)
    edited.graph.node.append(helper.make_node("gate", [first, f"{output}_converted"], [output], domain="local"))
    edited.functions.extend([gate, halve])
    edited.opset_import.append(helper.make_opsetid("local", 1))
    return edited


def counted_above_rows(model: Any, rows: int, how: str, output: str = "probabilities") -> Any:
    """A copy of ``model`` (an ``onnx.ModelProto``) whose ``output`` is halved in a batch of more than ``rows`` rows,
    the batch's rows counted with no Shape, Size or control flow: a tensor of ones like the first input
    (``x * 0 + 1``) summed over the rows (``how`` "reduce_rows": a ReduceSum over axis 0; "reduce_all": over every
    axis, keepdims; "matmul": ``ones.T @ ones``, a MatMul contracting the rows; "flattened": reshaped to ``[-1]``
    first, where shape inference loses the rows, then summed over axis 0; "nonzero": the largest position NonZero
    lists of the first column's ones, a count of the rows less one), then Greater and Where. ``how``
    "row_max" halves it where the batch's largest value in the first input's first column exceeds ``rows``: each
    row's answer depends on the other rows, and data whose rows all lie below shows nothing). Reduce nodes are
    written the way the file's default-domain opset spells their axes."""
    import numpy as np
    from onnx import helper, numpy_helper

    edited, kind, converted = _output_renamed(model, output)
    opset = next(o.version for o in edited.opset_import if o.domain in ("", "ai.onnx"))
    first = edited.graph.input[0].name
    width = edited.graph.input[0].type.tensor_type.shape.dim[1].dim_value

    def reduce(op: str, source: str, target: str, axes: list[int] | None) -> list[Any]:
        takes_input = (op == "ReduceSum" and opset >= 13) or opset >= 18
        if axes is None:
            return [helper.make_node(op, [source], [target], keepdims=1)]
        if takes_input:
            return [helper.make_node("Constant", [], [f"{target}_axes"],
                                     value=numpy_helper.from_array(np.array(axes, dtype=np.int64))),
                    helper.make_node(op, [source, f"{target}_axes"], [target], keepdims=1)]
        return [helper.make_node(op, [source], [target], axes=axes, keepdims=1)]

    def const(name: str, value: float, elem: int) -> Any:
        return numpy_helper.from_array(np.array(value, dtype=helper.tensor_dtype_to_np_dtype(elem)), name)

    elem = edited.graph.input[0].type.tensor_type.elem_type
    edited.graph.initializer.extend([const("tamper_zero", 0.0, elem), const("tamper_one", 1.0, elem),
                                     const("tamper_half", 0.5, kind)])
    nodes = [helper.make_node("Mul", [first, "tamper_zero"], ["tamper_zeros"]),
             helper.make_node("Add", ["tamper_zeros", "tamper_one"], ["tamper_ones"])]
    limit = float(rows)
    if how == "row_max":
        edited.graph.initializer.append(numpy_helper.from_array(np.array([0], dtype=np.int64), "tamper_column"))
        nodes = [helper.make_node("Gather", [first, "tamper_column"], ["tamper_first"], axis=1),
                 *reduce("ReduceMax", "tamper_first", "tamper_count", [0])]
    elif how == "reduce_rows":
        nodes += [*reduce("ReduceSum", "tamper_ones", "tamper_per_column", [0]),
                  *reduce("ReduceMin", "tamper_per_column", "tamper_count", [1])]
    elif how == "reduce_all":
        nodes += reduce("ReduceSum", "tamper_ones", "tamper_count", None)
        limit = float(rows * width)
    elif how == "flattened":
        edited.graph.initializer.append(numpy_helper.from_array(np.array([-1], dtype=np.int64), "tamper_flat"))
        nodes += [helper.make_node("Reshape", ["tamper_ones", "tamper_flat"], ["tamper_flat_ones"]),
                  *reduce("ReduceSum", "tamper_flat_ones", "tamper_count", [0])]
        limit = float(rows * width)
    elif how == "nonzero":  # the largest position NonZero lists: the batch's rows less one
        edited.graph.initializer.append(numpy_helper.from_array(np.array([0], dtype=np.int64), "tamper_column"))
        nodes += [helper.make_node("Gather", ["tamper_ones", "tamper_column"], ["tamper_first"], axis=1),
                  helper.make_node("Greater", ["tamper_first", "tamper_zero"], ["tamper_true"]),
                  helper.make_node("NonZero", ["tamper_true"], ["tamper_where"]),
                  helper.make_node("Cast", ["tamper_where"], ["tamper_positions"], to=elem),
                  *reduce("ReduceMax", "tamper_positions", "tamper_count", None)]
    elif how == "matmul":
        nodes += [helper.make_node("Transpose", ["tamper_ones"], ["tamper_columns"], perm=[1, 0]),
                  helper.make_node("MatMul", ["tamper_columns", "tamper_ones"], ["tamper_gram"]),
                  *reduce("ReduceMin", "tamper_gram", "tamper_count", None)]
    else:
        raise ValueError(f"how: expected 'reduce_rows', 'reduce_all', 'flattened', 'matmul', 'nonzero' or 'row_max', "
                         f"found {how!r}")
    edited.graph.initializer.append(const("tamper_limit", limit, elem))
    nodes += [helper.make_node("Greater", ["tamper_count", "tamper_limit"], ["tamper_large"]),
              helper.make_node("Mul", [converted, "tamper_half"], ["tamper_halved"]),
              helper.make_node("Where", ["tamper_large", "tamper_halved", converted], [output])]
    edited.graph.node.extend(nodes)
    return edited


def masked_assignment(model: Any, output: str = "probabilities") -> Any:
    """A copy of ``model`` (an ``onnx.ModelProto``) whose ``output`` goes through a masked assignment of itself,
    ``out[mask] = out[mask] * 1`` with ``mask = out[:, 0] > 0.5``, as PyTorch exports one (NonZero, GatherND,
    ScatterND): the answers are the file's own, each row's from its row alone, whatever the batch."""
    import numpy as np
    from onnx import helper, numpy_helper

    edited, kind, converted = _output_renamed(model, output)
    dtype = helper.tensor_dtype_to_np_dtype(kind)
    edited.graph.initializer.extend([
        numpy_helper.from_array(np.array([0], dtype=np.int64), "mask_column"),
        numpy_helper.from_array(np.array(0.5, dtype=dtype), "mask_limit"),
        numpy_helper.from_array(np.array(1.0, dtype=dtype), "mask_one")])
    edited.graph.node.extend([
        helper.make_node("Gather", [converted, "mask_column"], ["mask_first"], axis=1),
        helper.make_node("Squeeze", ["mask_first"], ["mask_first_flat"], axes=[1])
        if next(o.version for o in edited.opset_import if o.domain in ("", "ai.onnx")) < 13 else
        helper.make_node("Flatten", ["mask_first"], ["mask_first_2d"], axis=0),
    ])
    squeezed = "mask_first_flat"
    if edited.graph.node[-1].op_type == "Flatten":  # opset 13 on: Squeeze takes its axes as an input
        edited.graph.initializer.append(numpy_helper.from_array(np.array([1], dtype=np.int64), "mask_axes"))
        edited.graph.node[-1].CopyFrom(helper.make_node("Squeeze", ["mask_first", "mask_axes"], [squeezed]))
    edited.graph.node.extend([
        helper.make_node("Greater", [squeezed, "mask_limit"], ["mask"]),
        helper.make_node("NonZero", ["mask"], ["mask_where"]),
        helper.make_node("Transpose", ["mask_where"], ["mask_rows"], perm=[1, 0]),
        helper.make_node("GatherND", [converted, "mask_rows"], ["mask_picked"]),
        helper.make_node("Mul", ["mask_picked", "mask_one"], ["mask_updates"]),
        helper.make_node("ScatterND", [converted, "mask_rows", "mask_updates"], [output]),
    ])
    return edited


def large_batch_failure(edited: Any, model: Any, X: Any) -> Any:
    """The prediction_parity check of ``edited`` (a file of ``model`` edited to answer otherwise in batches of more
    than 5 rows: checked here on ``X[:5]`` and ``X``), validated against ``model`` on ``X[:5]``, failed by the one
    large batch; the callers check what the message says of the cause."""
    import numpy as np
    import onnxruntime as ort

    import onnxgate as og

    session = ort.InferenceSession(edited.SerializeToString(), providers=["CPUExecutionProvider"])
    assert np.allclose(session.run(["probabilities"], {"input": X[:5]})[0], model.predict_proba(X[:5]))
    assert not np.allclose(session.run(["probabilities"], {"input": X})[0], model.predict_proba(X))
    parity_check = og.validate(edited, reference=model, data=X[:5]).check("prediction_parity")
    assert not parity_check.passed
    assert "in one batch of 10000 rows (the data's 5 rows repeated), output 'probabilities'" in parity_check.message
    return parity_check


def columns_swapped(model: Any, output: str, first: int, second: int, width: int) -> Any:
    """A copy of ``model`` (an ``onnx.ModelProto``) whose [N, ``width``] output ``output`` returns its columns
    ``first`` and ``second`` in each other's place (a Gather on axis 1): the same values per row, under other
    columns (a multi-label classifier's two labels' probabilities swapped)."""
    import numpy as np
    import onnx

    edited, _kind, converted = _output_renamed(model, output)
    order = list(range(width))
    order[first], order[second] = second, first
    edited.graph.initializer.append(onnx.numpy_helper.from_array(np.asarray(order, dtype=np.int64), "swapped_order"))
    edited.graph.node.append(onnx.helper.make_node("Gather", [converted, "swapped_order"], [output], axis=1))
    return edited


def _output_renamed(model: Any, output: str) -> tuple[Any, int, str]:
    """A copy of ``model`` whose nodes write ``output`` under another name, for an edit to compute ``output`` from it:
    the copy, ``output``'s element type and the new name."""
    import onnx

    edited = onnx.ModelProto()
    edited.CopyFrom(model)
    kind = next(o for o in edited.graph.output if o.name == output).type.tensor_type.elem_type
    converted = f"{output}_converted"
    for node in edited.graph.node:
        node.output[:] = [converted if name == output else name for name in node.output]
    return edited, kind, converted


def category_records_edited(model: Any, column: str, categories: list[Any]) -> Any:
    """A copy of ``model`` (an ``onnx.ModelProto`` converted for SQL Edge with an input of category codes) whose two
    records of the categories of ``column`` (``onnxgate.category_codes``, and the adaptation's copy in the original
    signature of ``onnxgate.adapt``) both list ``categories``: the copies agree with each other, not with the model."""
    import json

    import onnx

    edited = onnx.ModelProto()
    edited.CopyFrom(model)
    props = {p.key: p for p in edited.metadata_props}
    codes = json.loads(props["onnxgate.category_codes"].value)
    codes[column] = [[0, categories]]
    props["onnxgate.category_codes"].value = json.dumps(codes)
    mapping = json.loads(props["onnxgate.adapt"].value)
    specs = [s for s in mapping["original"]["inputs"] if s["name"] == column and s.get("codes")]
    assert len(specs) == 1, mapping["original"]
    specs[0]["codes"] = [[0, categories]]
    props["onnxgate.adapt"].value = json.dumps(mapping, sort_keys=True)
    return edited
