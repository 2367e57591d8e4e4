"""The graph rewrite to the ``PREDICT`` contract: column inputs in, one value per row per output out.

:class:`Rewrite` works on a copy of the model in four steps, each a method: check what the inputs
need (:meth:`Rewrite.plan_inputs`), wrap each input (:meth:`Rewrite.split_input` for an ``[N,k]``
input fed by ``k`` columns, :meth:`Rewrite.column_input` for an ``[N]``/``[N,1]`` one), plan and
build the outputs (:meth:`Rewrite.plan_outputs`, :meth:`Rewrite.build_outputs`), and write the
mapping into the model (:meth:`Rewrite.finish`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from onnxgate._graph import first_reader
from onnxgate._onnx import model_opsets
from onnxgate.adaptation.graph import (
    FALLBACK_TYPE,
    batch_dim,
    column_type,
    elem_code,
    elem_name,
    graph_names,
    infer_shapes,
    place_nodes,
    rename_tensor,
    shape_of,
    zipmap_width,
)
from onnxgate.adaptation.mapping import ADAPT_METADATA_VERSION, set_metadata
from onnxgate.columns import ColumnMap
from onnxgate.errors import InvalidDataError, UnsupportedModelError
from onnxgate.sql_rules import check_column_names, flatten_fix, sql_identifier, unique_identifier

if TYPE_CHECKING:
    import onnx

    from onnxgate.targets import Target

__all__ = ["CLASS_OUTPUT_PREFIX", "Rewrite", "rewrite"]

#: Prefix of per-class probability outputs.
CLASS_OUTPUT_PREFIX = "p_"
#: The type a classifier's text label output is returned in where the target returns no text: the code of its
#: class, as a text category input takes its codes (int32, SQL ``int``).
CLASS_CODE_TYPE = "int32"
#: The ai.onnx.ml classifier nodes whose ``classlabels_strings`` are the classes a text label output answers.
CLASSIFIER_OPS = ("ZipMap", "LinearClassifier", "TreeEnsembleClassifier", "SVMClassifier")


def rewrite(
    model: onnx.ModelProto,
    target: Target,
    *,
    columns: Sequence[str] | None,
    column_types: Mapping[str, str] | None,
    class_labels: Sequence[str] | None,
    is_classifier: bool,
    target_labels: Sequence[Sequence[str]] | None = None,
) -> tuple[onnx.ModelProto, dict[str, Any]]:
    """Rewrite a copy of ``model`` to the PREDICT contract; return it with the mapping."""
    return Rewrite(model, target, columns=columns, column_types=column_types, class_labels=class_labels,
                   is_classifier=is_classifier, target_labels=target_labels).run()


class Rewrite:
    """One rewrite of one model: the copy being edited, the names taken, the wrappers built so far."""

    def __init__(
        self,
        model: onnx.ModelProto,
        target: Target,
        *,
        columns: Sequence[str] | None,
        column_types: Mapping[str, str] | None,
        class_labels: Sequence[str] | None,
        is_classifier: bool,
        target_labels: Sequence[Sequence[str]] | None = None,
    ) -> None:
        import onnx

        from onnxgate._graph import split_tensor_sequences
        from onnxgate.signature import Signature

        self.proto = onnx.ModelProto()
        self.proto.CopyFrom(model)
        self.graph = self.proto.graph
        self.target = target
        self.class_labels = class_labels
        self.target_labels = target_labels
        self.is_classifier = is_classifier
        # a sequence of [N, k_t] tensors (MultiOutputClassifier's probabilities) as one output per target first:
        # the native model's answers are laid out against those (its predict_proba gives one array per target)
        self.sequences_split = split_tensor_sequences(self.proto)
        #: output -> which element of a split sequence it is (the target whose classes its columns are)
        self.element_of = {part: t for parts in self.sequences_split.values() for t, part in enumerate(parts)}
        self.original = Signature.from_model(self.proto)
        self.declared = dict(column_types or {})
        self.weights = {init.name for init in self.graph.initializer}
        self.real_inputs = [vi for vi in self.graph.input if vi.name not in self.weights]
        self.taken = graph_names(self.graph)
        self.new_nodes: list[Any] = []
        self.new_inputs: list[Any] = []
        self.input_map: dict[str, dict[str, Any]] = {}
        self.user_columns = list(columns) if columns is not None else None
        self.include_plain = False
        self.cursor = 0
        self.split_count = 0
        self.chosen_columns: set[str] = set()
        self.kept_names: set[str] = set()
        self.raw_columns: set[str] = set()
        self.column_sources: dict[str, str] = {}
        # the user's own column names, recorded at conversion (onnxgate.columns); composed with the SQL renames
        self.recorded = ColumnMap.from_model(self.proto)
        self.user_pairs: list[tuple[str, str]] = []
        #: tensors :meth:`claim` renamed for an input column (name -> fresh), which a planned output may read
        self.moved: dict[str, str] = {}
        #: the outputs' column names (:meth:`plan_outputs`), which no input column takes, ignoring case
        self.output_columns: set[str] = set()

    def run(self) -> tuple[onnx.ModelProto, dict[str, Any]]:
        # the outputs are named first, as the docs promise (label, p_<class>): PREDICT's WITH clause names them,
        # and an input column of the same name (LABEL, p_0) is renamed instead (it made the output label_1)
        plans = self.plan_outputs()
        self.output_columns = {name for plan in plans for name in plan["names"]}
        self.plan_inputs()
        for vi in list(self.real_inputs):
            shape = shape_of(vi)
            assert shape is not None
            if len(shape) == 2 and shape[1] > 1:
                self.split_input(vi, shape)
            else:
                self.column_input(vi, shape)
        for plan in plans:
            plan["source"] = self.moved_name(plan["source"])
        output_map, new_outputs = self.build_outputs(plans, self.free_output_names(plans))
        return self.proto, self.finish(plans, output_map, new_outputs)

    # -- names

    def claim(self, name: str) -> str:
        """Free ``name`` for a new column by renaming an internal tensor that already uses it."""
        if name in self.taken:
            fresh = unique_identifier(f"{name}__inner", self.taken)
            self.moved[name] = fresh
            rename_tensor(self.graph, name, fresh)
            for nd in self.new_nodes:
                for i, n in enumerate(nd.input):
                    if n == name:
                        nd.input[i] = fresh
        self.taken.add(name)
        return name

    def moved_name(self, name: str) -> str:
        """What tensor ``name`` is called after :meth:`claim` renamed it (once or more), else ``name``."""
        while name in self.moved:
            name = self.moved[name]
        return name

    def ident(self, raw: str) -> str:
        """The column for ``raw``: PREDICT matches columns to inputs by name, so a regular identifier; a
        renamed column avoids the names other columns keep (``select`` made ``select_``, the name of the
        user's next column, whose input was then renamed under it and recorded as none of theirs: a table
        loaded by name fed each feature the other's values; helper-88)."""
        base = sql_identifier(raw)
        taken = self.chosen_columns | ({n for n in self.kept_names if n != raw} if base != raw else set())
        name = unique_identifier(base, taken | self.output_columns, ignore_case=True)
        self.chosen_columns.add(name)
        if name != raw:
            self.column_sources[name] = raw
        return name

    def declared_type(self, column: str) -> str | None:
        """The type given for ``column``, or for the name it was made from (``LABEL`` for ``LABEL_1``)."""
        return self.declared.get(column, self.declared.get(self.column_sources.get(column, column)))

    def _refuse_bad_names(self, names: list[str]) -> None:
        """Column names that repeat (ignoring case, as SQL does, for names the user gave) or are empty."""
        given = self.user_columns is not None
        if given and any(not str(n).strip() for n in names):
            raise InvalidDataError(f"column names must not be empty; found {names}", column="")
        key = (lambda n: n.casefold()) if given else (lambda n: n)
        seen = {key(n) for n in self.raw_columns}
        dup = sorted({n for n in names if [key(m) for m in names].count(key(n)) > 1 or key(n) in seen})
        if dup:  # the user's list is checked whole first (check_column_names): a name of an input they did not name
            how = " (SQL names ignore case)" if given else ""
            fix = ("give --columns names that the model's other inputs do not have" if given else
                   "give the table columns names of your own with --columns (columns= in Python), one per column")
            raise InvalidDataError(f"column names must be unique{how}; {dup} repeat: the table would hold two columns "
                                   f"of that name; {fix}", column=dup[0])

    def unique(self, base: str) -> str:
        return unique_identifier(base, self.taken)

    # -- inputs

    def plan_inputs(self) -> None:
        """Refuse inputs no column can feed; check the caller's column names cover the split inputs."""
        split_widths = []
        for vi in self.real_inputs:
            shape = shape_of(vi)
            if vi.type.WhichOneof("value") != "tensor_type":
                raise UnsupportedModelError(f"input {vi.name!r} is not a tensor; a table column cannot feed it")
            if shape is not None and len(shape) == 2 and isinstance(shape[1], int) and shape[1] > 1:
                split_widths.append(shape[1])
            elif shape is None or len(shape) > 2 or (len(shape) == 2 and not isinstance(shape[1], int)):
                raise UnsupportedModelError(
                    f"input {vi.name!r} has shape {list(shape) if shape is not None else '?'}; PREDICT feeds one "
                    "value per row per input, so an input must be [N], [N,1] or [N,k] with a fixed k"
                    + (f": {flatten_fix(vi.name, shape)}" if shape is not None and len(shape) > 2 else "")
                )
        total_split = sum(split_widths)
        plain_count = len(self.real_inputs) - len(split_widths)
        self.split_count = len(split_widths)
        user_columns = self.user_columns
        # the names that are regular identifiers already, which their columns keep
        candidates = list(user_columns or []) + [vi.name for vi in self.real_inputs]
        self.kept_names = {n for n in candidates if sql_identifier(n) == n}
        if user_columns is not None and len(user_columns) not in (total_split, total_split + plain_count):
            raise InvalidDataError(
                f"columns names {len(user_columns)} columns; the model's inputs need {total_split} "
                "(one per value of its [N,k] inputs)"
                + (f" or {total_split + plain_count} (every column)" if plain_count else "")
                + f"; give {total_split} names, comma-separated, or leave --columns out for the model's own"
            )
        if user_columns is not None:
            check_column_names(user_columns)
        self.include_plain = (
            user_columns is not None and len(user_columns) == total_split + plain_count and plain_count > 0
        )

    def split_input(self, vi: Any, shape: tuple[Any, ...]) -> None:
        """An ``[N,k]`` input fed by ``k`` column inputs, each Cast when needed, Concat-ed on axis 1."""
        from onnx import helper

        orig_name = vi.name  # rename_tensor renames the graph input too
        model_type = elem_name(vi.type.tensor_type.elem_type)
        batch = batch_dim(shape)
        width = int(shape[1])
        if self.user_columns is not None:
            names = self.user_columns[self.cursor : self.cursor + width]
            self.cursor += width
        elif self.split_count == 1:
            names = [f"f{i}" for i in range(width)]
        else:
            names = [f"{sql_identifier(orig_name)}_{i}" for i in range(width)]
        self._refuse_bad_names(names)
        self.raw_columns.update(names)
        raw_names = names
        names = [self.ident(n) for n in names]
        self.user_pairs.extend(zip(raw_names, names))
        inner = self.unique(f"{orig_name}__concat")
        rename_tensor(self.graph, orig_name, inner)
        parts = []
        col_types = []
        for col in names:
            ctype = column_type(model_type, self.declared_type(col), self.target, self.column_sources.get(col, col))
            col_types.append(ctype)
            name = self.claim(col)
            self.new_inputs.append(helper.make_tensor_value_info(name, elem_code(ctype), [batch, 1]))
            if ctype != model_type:
                cast_out = self.unique(f"{name}__as_{model_type}")
                self.new_nodes.append(helper.make_node("Cast", [name], [cast_out], to=elem_code(model_type),
                                                       name=self.unique(f"onnxgate_cast_{name}")))
                parts.append(cast_out)
            else:
                parts.append(name)
        self.new_nodes.append(helper.make_node("Concat", parts, [inner], axis=1,
                                               name=self.unique(f"onnxgate_concat_{orig_name}")))
        self.input_map[orig_name] = {"columns": names, "column_types": col_types, "kind": "split"}

    def column_input(self, vi: Any, shape: tuple[Any, ...]) -> None:
        """An ``[N]`` or ``[N,1]`` input: renamed to its column, Cast and reshaped to ``[N,1]`` when needed."""
        import numpy as np
        from onnx import helper, numpy_helper

        orig_name = vi.name
        model_type = elem_name(vi.type.tensor_type.elem_type)
        batch = batch_dim(shape)
        col = orig_name
        if self.include_plain:
            assert self.user_columns is not None
            col = self.user_columns[self.cursor]
            self.cursor += 1
        self._refuse_bad_names([col])
        self.raw_columns.add(col)
        user_column = col if self.include_plain else self.recorded.column_for(orig_name)
        col = self.ident(col)
        self.user_pairs.append((user_column, col))
        # the refusal names the user's column ('my cat'), not the exporter's name for it ('my_cat')
        tokenized = model_type == "string" and first_reader(self.proto, orig_name, frozenset({"Tokenizer"})) is not None
        ctype = column_type(model_type, self.declared_type(col) or self.declared.get(orig_name), self.target,
                            user_column, tokenized)
        rank1 = len(shape) == 1
        if col == orig_name and not rank1 and ctype == model_type:
            self.new_inputs.append(vi)
            self.input_map[orig_name] = {"columns": [col], "column_types": [ctype], "kind": "column"}
            return
        inner = self.unique(f"{orig_name}__in")
        rename_tensor(self.graph, orig_name, inner)
        name = self.claim(col)
        self.new_inputs.append(helper.make_tensor_value_info(name, elem_code(ctype), [batch, 1]))
        current = name
        if ctype != model_type:
            cast_out = self.unique(f"{name}__as_{model_type}") if rank1 else inner
            self.new_nodes.append(helper.make_node("Cast", [current], [cast_out], to=elem_code(model_type),
                                                   name=self.unique(f"onnxgate_cast_{name}")))
            current = cast_out
        if rank1:
            shape_name = self.unique(f"{name}__flat_shape")
            self.graph.initializer.append(numpy_helper.from_array(np.array([-1], dtype=np.int64), shape_name))
            self.new_nodes.append(helper.make_node("Reshape", [current, shape_name], [inner],
                                                   name=self.unique(f"onnxgate_flatten_{name}")))
        elif current != inner:
            self.new_nodes.append(helper.make_node("Identity", [current], [inner],
                                                   name=self.unique(f"onnxgate_rename_{name}")))
        self.input_map[orig_name] = {"columns": [name], "column_types": [ctype],
                                     "kind": "rank1" if rank1 else "column"}

    # -- outputs

    def plan_outputs(self) -> list[dict[str, Any]]:
        """Every new output, planned before any is built (names first, then the wrappers)."""
        import onnx

        graph, target = self.graph, self.target
        shapes, value_types = infer_shapes(self.proto)
        producers = {out: node for node in graph.node for out in node.output}
        out_taken: set[str] = set()
        tensor_outputs = [vo for vo in graph.output if vo.type.WhichOneof("value") == "tensor_type"]
        plans: list[dict[str, Any]] = []
        dropped_nodes: list[Any] = []
        for vo in graph.output:
            kind = vo.type.WhichOneof("value")
            source = vo.name
            zipmap = False
            if kind != "tensor_type":
                node = producers.get(vo.name)
                if node is None or node.op_type != "ZipMap":
                    raise UnsupportedModelError(
                        f"output {vo.name!r} is a {(kind or 'non-tensor').replace('_type', '')}, not a tensor; "
                        "PREDICT returns table columns only. Export the model with tensor outputs.",
                        output=vo.name,
                    )
                source = node.input[0]
                dropped_nodes.append(node)
                zipmap = True
                narrowed = producers.get(source)
                if (narrowed is not None and narrowed.op_type == "Cast"
                        and value_types.get(narrowed.input[0]) == onnx.TensorProto.DOUBLE
                        and sum(source in n.input for n in graph.node) == 1):
                    # the double probabilities a double graph casts to float32 for ZipMap alone (its only float):
                    # the column takes them as they are, as without ZipMap
                    source = narrowed.input[0]
                    dropped_nodes.append(narrowed)
                shape = shapes.get(source)
                code = value_types.get(source, onnx.TensorProto.FLOAT)
                n_labels = zipmap_width(node)
                if n_labels and (shape is None or len(shape) != 2 or not isinstance(shape[1], int)):
                    # ai.onnx.ml shape inference often leaves the probabilities unshaped; ZipMap knows the classes
                    shape = (shape[0] if shape else "N", n_labels)
            else:
                shape = shape_of(vo)
                if shape is None or any(d is None for d in shape[1:]):
                    shape = shapes.get(vo.name) or shape
                code = vo.type.tensor_type.elem_type
            if shape is None or len(shape) not in (1, 2) or (len(shape) == 2 and not isinstance(shape[1], int)):
                raise UnsupportedModelError(
                    f"output {vo.name!r} has shape {list(shape) if shape is not None else '?'}; PREDICT needs one "
                    "value per row, so an output must be [N], [N,1] or [N,k] with a fixed k",
                    output=vo.name,
                )
            elem = elem_name(code)
            out_elem = elem
            allowed = target.output_types
            width = 1 if len(shape) == 1 else int(shape[1])  # type: ignore[arg-type]
            coded_labels: list[str] | None = None
            if allowed is not None and elem not in allowed:
                fallback = FALLBACK_TYPE.get(elem)
                if elem == "uint64" and fallback == "int64":
                    self.refuse_labels_past_int64(vo.name, source)
                if elem == "string" and CLASS_CODE_TYPE in allowed:
                    coded_labels = self.label_texts(vo.name, source, width)
                    fallback = CLASS_CODE_TYPE
                if fallback is None or fallback not in allowed:
                    raise UnsupportedModelError(
                        f"output {vo.name!r} holds {elem} values; target {target.name!r} returns only "
                        f"{sorted(allowed)}. For a classifier with text labels, train on integer-coded labels.",
                        output=vo.name,
                    )
                out_elem = fallback
            if width == 0:
                raise UnsupportedModelError(
                    f"output {vo.name!r} has no values per row (shape {list(shape)}), so PREDICT would return no "
                    "column for it (a MissingIndicator that saw no missing value in training, for instance). "
                    "Refit so the model answers at least one value per row",
                    output=vo.name,
                )
            element = self.element_of.get(vo.name)
            named_proba = "prob" in vo.name.lower()
            is_proba = zipmap or (width > 1 and (
                (self.is_classifier and len(tensor_outputs) > 1 and named_proba)
                # one target's probabilities, from the file alone too (a double logistic regression is MatMuls)
                or (element is not None and (self.is_classifier or named_proba))
            ))
            labels = self.class_labels
            prefix = CLASS_OUTPUT_PREFIX
            if element is not None:
                # one target's probabilities: its own classes, after the target's number (p_1_setosa)
                labels = (self.target_labels[element]
                          if self.target_labels is not None and element < len(self.target_labels) else None)
                prefix = f"{CLASS_OUTPUT_PREFIX}{element}_"
            own = vo.name
            if width > 1 and is_proba:
                classes = list(labels) if labels is not None and len(labels) == width else range(width)
                raw = [prefix + str(c) for c in classes]
            elif width > 1:
                raw = [f"{own}_{i}" for i in range(width)]
            else:
                raw = [own]
            names = [unique_identifier(sql_identifier(r), out_taken, ignore_case=True) for r in raw]
            keep = not zipmap and width == 1 and len(shape) == 2 and out_elem == elem and names[0] == vo.name
            plans.append({"orig": own, "source": source, "shape": shape, "batch": batch_dim(shape),
                          "width": width, "elem": elem, "out_elem": out_elem, "names": names, "keep": keep,
                          "zipmap": zipmap, "labels": coded_labels})
        for node in dropped_nodes:
            graph.node.remove(node)
        return plans

    def refuse_labels_past_int64(self, output: str, source: str) -> None:
        """Refuse a uint64 output holding class labels past int64's largest (2**63 + 5), which the target
        would return as int64: PREDICT answered -9223372036854775803 for 2**63 + 5, and parity failed. Its
        labels are the classes a label is picked from (a Gather of a uint64 initializer, as onnxgate writes a
        classifier's labels past int64), else a classifier's classes (a ZipMap's, the reference's)."""
        import numpy as np
        from onnx import numpy_helper

        largest = int(np.iinfo(np.int64).max)
        found: list[int] = []
        producers = {out: node for node in self.graph.node for out in node.output}
        inits = {init.name: init for init in self.graph.initializer}
        node = producers.get(source)
        while node is not None and node.op_type in ("Identity", "Reshape", "Squeeze", "Unsqueeze", "Flatten"):
            node = producers.get(node.input[0])
        if (node is not None and node.op_type in ("Gather", "ArrayFeatureExtractor") and node.input[0] in inits
                and inits[node.input[0]].data_type == 13):  # UINT64
            found = [int(v) for v in numpy_helper.to_array(inits[node.input[0]]).reshape(-1)]
        elif self.is_classifier and self.class_labels is not None:
            found = [int(c) for c in self.class_labels if str(c).isdigit()]
        past = sorted(v for v in found if v > largest)
        if not past:
            return
        raise UnsupportedModelError(
            f"output {output!r} holds class labels past int64's largest ({largest}), such as {past[-1]}, and "
            f"target {self.target.name!r} has no unsigned 64-bit type: PREDICT would return them as int64 "
            f"({past[-1] - 2**64} for {past[-1]}). Map the labels to int64 or text before training (a "
            "LabelEncoder's codes, kept with the model to decode its answers), or deploy to a target that returns "
            "uint64 (container, onnxruntime, mlflow)",
            output=output,
        )

    def label_texts(self, output: str, source: str, width: int) -> list[str]:
        """The classes of a classifier's text label output, in the order its codes follow: the probability
        columns' (a ZipMap's labels, else the reference's ``classes_``), else the file's own: the classifier node's
        labels, or the text initializer the label is picked from (skl2onnx's ``classes``, read by an
        ArrayFeatureExtractor at the ArgMax of the scores). Refuses an output that is no classifier's one label per
        row, or whose classes nothing names."""
        from onnx import numpy_helper

        graph_texts: list[str] = []
        for node in self.graph.node:
            if node.domain == "ai.onnx.ml" and node.op_type in CLASSIFIER_OPS:
                for attr in node.attribute:
                    if attr.name == "classlabels_strings":
                        graph_texts.extend(t.decode("utf-8") for t in attr.strings if t.decode("utf-8")
                                           not in graph_texts)
        producers = {out: node for node in self.graph.node for out in node.output}
        texts_of = {init.name: init for init in self.graph.initializer if init.data_type == 8}  # STRING
        node = producers.get(source)
        while node is not None and node.op_type in ("Identity", "Reshape", "Squeeze", "Unsqueeze", "Flatten"):
            node = producers.get(node.input[0])
        picked = (node is not None and node.op_type in ("ArrayFeatureExtractor", "Gather")
                  and node.input[0] in texts_of)
        if picked and not graph_texts:
            assert node is not None
            graph_texts = [t.decode("utf-8") if isinstance(t, bytes) else str(t)
                           for t in numpy_helper.to_array(texts_of[node.input[0]]).reshape(-1)]
        classes = list(self.class_labels) if self.class_labels is not None else None
        if classes is not None and (len(set(classes)) != len(classes) or not set(graph_texts) <= set(classes)):
            classes = None
        texts = classes if classes is not None else (graph_texts or None)
        if texts is not None and len(set(texts)) != len(texts):
            texts = None
        if not (self.is_classifier or picked) or width != 1 or not texts:
            why = ("no classifier's label" if not (self.is_classifier or picked) else
                   f"{width} labels per row" if width != 1 else "a classifier's label whose classes neither the file "
                   "(a ZipMap, a classifier node) nor a reference (its classes_) names")
            raise UnsupportedModelError(
                f"output {output!r} holds string values; target {self.target.name!r} returns only "
                f"{sorted(self.target.output_types or ())}, and onnxgate returns a classifier's one text label per "
                f"row as the code of its class, but this output is {why}. "
                + ("Give the native classifier as the reference (convert it with onnxgate, or adapt(..., "
                   "reference=model)), or train on integer-coded labels." if (self.is_classifier or picked)
                   and width == 1
                   else "For a classifier with text labels, train on integer-coded labels."),
                output=output,
            )
        return texts

    def free_output_names(self, plans: list[dict[str, Any]]) -> dict[str, str]:
        """A new output name already used inside the graph: rename the inner tensor (old -> new)."""
        renamed: dict[str, str] = {}
        for plan in plans:
            if plan["keep"]:
                continue
            for name in plan["names"]:
                if name in self.taken:
                    fresh = self.unique(f"{name}__inner")
                    rename_tensor(self.graph, name, fresh)
                    for nd in self.new_nodes:
                        for j, n in enumerate(nd.input):
                            if n == name:
                                nd.input[j] = fresh
                    renamed[name] = fresh
                self.taken.add(name)
        return renamed

    def build_outputs(
        self, plans: list[dict[str, Any]], renamed: Mapping[str, str]
    ) -> tuple[dict[str, list[list[Any]]], list[Any]]:
        """Gather, reshape and Cast each planned output into ``[N,1]`` columns."""
        import numpy as np
        from onnx import helper, numpy_helper

        output_map: dict[str, list[list[Any]]] = {}
        new_outputs: list[Any] = []
        for plan in plans:
            if plan["keep"]:
                vo = next(v for v in self.graph.output if v.name == plan["orig"])
                new_outputs.append(vo)
                output_map[plan["orig"]] = [[plan["orig"], None]]
                continue
            source = renamed.get(plan["source"], plan["source"])
            elem, out_elem, width = plan["elem"], plan["out_elem"], plan["width"]
            entries: list[list[Any]] = []
            for i, name in enumerate(plan["names"]):
                current = source
                if width > 1:
                    idx = self.unique(f"{name}__index")
                    self.graph.initializer.append(numpy_helper.from_array(np.array([i], dtype=np.int64), idx))
                    gathered = name if out_elem == elem else self.unique(f"{name}__raw")
                    self.new_nodes.append(helper.make_node("Gather", [current, idx], [gathered], axis=1,
                                                           name=self.unique(f"onnxgate_column_{name}")))
                    current = gathered
                elif len(plan["shape"]) == 1:
                    shape_name = self.unique(f"{name}__col_shape")
                    self.graph.initializer.append(
                        numpy_helper.from_array(np.array([-1, 1], dtype=np.int64), shape_name)
                    )
                    reshaped = name if out_elem == elem else self.unique(f"{name}__raw")
                    self.new_nodes.append(helper.make_node("Reshape", [current, shape_name], [reshaped],
                                                           name=self.unique(f"onnxgate_as_column_{name}")))
                    current = reshaped
                if plan["labels"] is not None:
                    current = self.encode_labels(current, name, plan["labels"])
                if out_elem != elem:
                    self.new_nodes.append(helper.make_node("Cast", [current], [name], to=elem_code(out_elem),
                                                           name=self.unique(f"onnxgate_cast_{name}")))
                    current = name
                if current != name:
                    self.new_nodes.append(helper.make_node("Identity", [current], [name],
                                                           name=self.unique(f"onnxgate_rename_{name}")))
                new_outputs.append(helper.make_tensor_value_info(name, elem_code(out_elem), [plan["batch"], 1]))
                entries.append([name, i if width > 1 else None])
            output_map[plan["orig"]] = entries
        return output_map, new_outputs

    def encode_labels(self, source: str, name: str, labels: Sequence[str]) -> str:
        """An ai.onnx.ml ``LabelEncoder`` from each text label of ``source`` to its position in ``labels`` (int64; -1
        for any other text, which a classifier never answers): the node of the file's ai.onnx.ml opset (version 1
        looks a text up in ``classes_strings``, version 2 on in ``keys_strings``), the domain imported at 1 where the
        file has none. Returns the codes' name."""
        from onnx import helper

        opsets = model_opsets(self.proto)
        if "ai.onnx.ml" not in opsets:
            entry = self.proto.opset_import.add()
            entry.domain, entry.version = "ai.onnx.ml", 1
        version = model_opsets(self.proto).get("ai.onnx.ml", 1)
        codes = self.unique(f"{name}__codes")
        attrs: dict[str, Any] = ({"classes_strings": list(labels)} if version < 2 else
                                 {"keys_strings": list(labels), "values_int64s": list(range(len(labels)))})
        self.new_nodes.append(helper.make_node("LabelEncoder", [source], [codes], domain="ai.onnx.ml",
                                               default_int64=-1, name=self.unique(f"onnxgate_codes_of_{name}"),
                                               **attrs))
        return codes

    # -- the result

    def finish(
        self, plans: list[dict[str, Any]], output_map: dict[str, list[list[Any]]], new_outputs: list[Any]
    ) -> dict[str, Any]:
        """Swap in the new inputs, outputs and nodes; record the mapping in the model's metadata."""
        graph = self.graph
        weights_now = [vi for vi in graph.input if vi.name in self.weights]
        del graph.input[:]
        graph.input.extend(self.new_inputs + weights_now)
        del graph.output[:]
        graph.output.extend(new_outputs)
        place_nodes(graph, self.new_nodes, {vi.name for vi in self.new_inputs})
        if "" not in model_opsets(self.proto):
            entry = self.proto.opset_import.add()
            entry.domain = ""
            entry.version = min(self.target.opset or 13, 13)
        mapping = {
            "version": ADAPT_METADATA_VERSION,
            "target": self.target.name,
            "original": self.original.to_dict(),
            "inputs": self.input_map,
            "outputs": output_map,
            "zipmap_removed": [p["orig"] for p in plans if p["zipmap"]],
            "sequences_split": self.sequences_split,
            "classes": list(self.class_labels) if self.class_labels is not None else None,
            "column_sources": self.column_sources,
        }
        set_metadata(self.proto, mapping)
        self.record_labels(plans)
        ColumnMap.from_pairs(self.user_pairs).write(self.proto)
        self.carry_input_records()
        return mapping

    def record_labels(self, plans: list[dict[str, Any]]) -> None:
        """Record the text label of each code of the outputs that return a classifier's text labels as codes
        (:data:`onnxgate.signature.CLASS_LABELS_METADATA_KEY`), where parity, a package's label table and its
        README read them."""
        import json

        from onnxgate.signature import CLASS_LABELS_METADATA_KEY

        labels = {plan["names"][0]: list(plan["labels"]) for plan in plans if plan["labels"] is not None}
        kept = [p for p in self.proto.metadata_props if p.key != CLASS_LABELS_METADATA_KEY]
        del self.proto.metadata_props[:]
        self.proto.metadata_props.extend(kept)
        if labels:
            entry = self.proto.metadata_props.add()
            entry.key, entry.value = CLASS_LABELS_METADATA_KEY, json.dumps(labels, ensure_ascii=False)

    def carry_input_records(self) -> None:
        """Move what the model records of each input (:data:`onnxgate.signature.BY_INPUT_METADATA_KEYS`: LightGBM's
        integer categories, XGBoost's category codes, a text input's missing value) to the column that feeds it
        now: left under the input's old name, a column renamed for SQL (``select`` to ``select_``, ``p_1`` to
        ``p_1_1``) lost it, and every route read the column as plain numbers, a LightGBM number none of the
        categories (a client's codes) scored as a missing value without a word (helper-241). The columns of a
        split input take the category codes recorded at their position."""
        import json

        from onnxgate.signature import (
            BY_INPUT_METADATA_KEYS,
            CATEGORY_CODES_METADATA_KEY,
            UNSEEN_MISSING_METADATA_KEY,
        )

        props = {p.key: p for p in self.proto.metadata_props if p.key in BY_INPUT_METADATA_KEYS}
        recorded: dict[str, dict[str, Any]] = {}
        for key, prop in props.items():
            try:
                found = json.loads(prop.value)
            except ValueError:
                continue
            if isinstance(found, dict):
                recorded[key] = found
        codes = recorded.get(CATEGORY_CODES_METADATA_KEY, {})
        for key, found in recorded.items():
            moved: dict[str, Any] = {}
            for name, value in found.items():
                entry = self.input_map.get(name)
                if entry is None:  # no input of the model's (a weight, a stale record): as it was
                    moved[name] = value
                    continue
                columns = [str(c) for c in entry["columns"]]
                if entry["kind"] != "split":
                    moved[columns[0]] = value
                    continue
                # a split input's columns each read one position: its codes, and whether an unseen one is missing
                for item in codes.get(name) or []:
                    if isinstance(item, list) and len(item) == 2 and isinstance(item[0], int) \
                            and 0 <= item[0] < len(columns):
                        if key == CATEGORY_CODES_METADATA_KEY:
                            moved[columns[item[0]]] = [[0, item[1]]]
                        elif key == UNSEEN_MISSING_METADATA_KEY:
                            moved[columns[item[0]]] = value
            props[key].value = json.dumps(moved, ensure_ascii=False)
