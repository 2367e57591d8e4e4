"""A classifier fitted on text labels is converted for the SQL targets, whose PREDICT returns numbers only: its label
output returns the code of each class (its position among the classifier's ``classes_``, int32), the text of each
code is recorded in the model (``onnxgate.class_labels``), parity compares the reference's labels by that record (a
file whose record names the codes otherwise fails), and the SQL package writes a table of the labels
(``08_create_class_labels.sql``) and a query that returns them (``09_predict_labels.sql``), which the DuckDB dry run
runs. Before, such a classifier was refused ("train on integer-coded labels")."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import onnxgate as og

pytest.importorskip("duckdb")

#: a quote and a bracket (closing a T-SQL string and identifier), text outside ASCII (an emoji is two UTF-16 units),
#: and a statement's text
LABELS = np.array(["O'Brien]", "café ☕", "x]; DROP TABLE t;--"])


def _iris() -> tuple[Any, Any]:
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    return X, LABELS[y]


def _logistic() -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=500)


def _forest_pipeline() -> Any:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), RandomForestClassifier(n_estimators=5, max_depth=3, random_state=0))


def _lightgbm() -> Any:
    lightgbm = pytest.importorskip("lightgbm")
    return lightgbm.LGBMClassifier(n_estimators=5, verbose=-1)


@pytest.mark.parametrize("target", ["sql-edge-2.0", "sql-edge-1.0"])
@pytest.mark.parametrize("make", [_logistic, _forest_pipeline, _lightgbm], ids=["logreg", "pipeline-rf", "lightgbm"])
def test_a_text_label_classifier_is_converted_validated_packaged_and_dry_run_to_its_labels(
        make: Any, target: str, tmp_path: Path) -> None:
    from onnxgate.deploy.duckdb_dryrun import dry_run

    X, y = _iris()
    model = make().fit(X, y)
    conv = og.convert(model, X[:5], target=target)
    label = conv.signature.output("label")
    # the code of each class is its position among classes_, the order of the p_<class> columns
    assert (label.elem_type, label.labels) == ("int32", tuple(model.classes_))
    said = [w for w in conv.warnings if w.startswith("output 'label' holds string values")]
    assert len(said) == 1 and "0 \"O'Brien]\", 1 'café ☕'" in said[0], conv.warnings
    import onnxruntime as ort

    session = ort.InferenceSession(conv.model.SerializeToString(), providers=["CPUExecutionProvider"])
    codes = session.run(["label"], {f"f{k}": X[:, k:k + 1] for k in range(4)})[0].ravel()
    np.testing.assert_array_equal(model.classes_[codes], model.predict(X))
    report = og.validate(conv, target, reference=model, data=X)
    assert report.passed, str(report)
    out = og.package(conv, target=target, out=tmp_path / "p", reference=model, data=X, model_name="iris")
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["sql"]["class_labels"]["outputs"] == [{"output": "label", "table": "iris_label_classes"}]
    result = dry_run(out, X, reference=model)
    assert result.passed, str(result)
    assert result.labels["label"] == list(model.predict(X))
    assert "text labels of 'label' by 08_create_class_labels.sql and 09_predict_labels.sql's join: 150 rows" \
        in str(result)
    readme = (out / "README.md").read_text(encoding="utf-8")
    assert "## Text class labels: their codes" in readme and "`dbo.iris_label_classes`" in readme


def test_the_label_scripts_hold_quotes_and_text_outside_ascii_as_literals(tmp_path: Path) -> None:
    from onnxgate.deploy.duckdb_dryrun import duckdb_statements

    X, y = _iris()
    model = _logistic().fit(X, y)
    conv = og.convert(model, X[:5], target="synapse")
    out = og.package(conv, target="synapse", out=tmp_path / "p", model_name="iris]x")
    script = (out / "08_create_class_labels.sql").read_text(encoding="utf-8")
    assert "CREATE TABLE [dbo].[iris]]x_label_classes] (" in script
    assert "WITH (DISTRIBUTION = REPLICATE, HEAP)" in script and "PRIMARY KEY" not in script
    for code, text in [(0, "N'O''Brien]'"), (1, "N'café ☕'"), (2, "N'x]; DROP TABLE t;--'")]:
        assert f"VALUES ({code}, {text});" in script
    # each literal is one value: run in DuckDB, the table holds the labels as they are
    import duckdb

    con = duckdb.connect()
    con.execute('CREATE SCHEMA "dbo"')
    for statement in duckdb_statements(script):
        con.execute(statement)
    assert con.sql('SELECT "code", "class" FROM "dbo"."iris]x_label_classes" ORDER BY "code"').fetchall() == \
        list(enumerate(LABELS))
    query = (out / "09_predict_labels.sql").read_text(encoding="utf-8")
    assert "c0.[class] AS [label]" in query
    assert "LEFT JOIN [dbo].[iris]]x_label_classes] AS c0 ON c0.[code] = p.[label];" in query


def _with_labels(model: Any, labels: list[str]) -> Any:
    import onnx

    proto = onnx.ModelProto()
    proto.CopyFrom(model)
    for prop in proto.metadata_props:
        if prop.key == "onnxgate.class_labels":
            prop.value = json.dumps({"label": labels}, ensure_ascii=False)
    return proto


def test_a_file_whose_recorded_labels_are_permuted_fails_validate_and_is_not_packaged(tmp_path: Path) -> None:
    X, y = _iris()
    model = _logistic().fit(X, y)
    conv = og.convert(model, X[:5], target="sql-edge-2.0")
    swapped = [str(c) for c in model.classes_[[1, 0, 2]]]
    broken = _with_labels(conv.model, swapped)
    assert og.Signature.from_model(broken).output("label").labels == tuple(swapped)
    report = og.validate(broken, "sql-edge-2.0", reference=model, data=X)
    assert not report.passed
    assert [c.name for c in report.failures] == ["prediction_parity"]
    # every row of the two classes swapped, and the message says how the labels were compared
    moved = int(np.isin(model.predict(X), model.classes_[:2]).sum())
    message = report.check("prediction_parity").message
    assert f"output 'label'  {moved}/150 rows differ" in message
    assert "compared as the codes the model records for them (metadata onnxgate.class_labels: 0 'café ☕'" \
        in message
    with pytest.raises(og.ValidationFailedError):
        og.package(broken, target="sql-edge-2.0", out=tmp_path / "p", reference=model, data=X)
    assert not (tmp_path / "p").exists()
    # the record as written passes: what failed was the record, not the graph
    assert og.validate(_with_labels(conv.model, list(model.classes_)), "sql-edge-2.0", reference=model, data=X)


def test_a_permuted_label_file_fails_validate_on_the_command_line(tmp_path: Path, monkeypatch: Any,
                                                                 capsys: Any) -> None:
    import onnx

    from onnxgate.cli import main

    monkeypatch.chdir(tmp_path)
    X, y = _iris()
    model = _logistic().fit(X, y)
    conv = og.convert(model, X[:5], target="sql-edge-2.0")
    onnx.save(_with_labels(conv.model, [str(c) for c in model.classes_[[2, 1, 0]]]), "model.onnx")
    import skops.io

    skops.io.dump(model, "model.skops")
    np.save("rows.npy", X)
    code = main(["validate", "model.onnx", "--target", "sql-edge-2.0", "--reference", "model.skops", "--data",
                 "rows.npy"])
    assert code == 1
    assert "FAILED   prediction_parity" in capsys.readouterr().out


def test_a_package_whose_label_table_was_edited_is_refused_by_the_dry_run(tmp_path: Path) -> None:
    from onnxgate.deploy.duckdb_dryrun import dry_run

    X, y = _iris()
    model = _logistic().fit(X, y)
    out = og.package(og.convert(model, X[:5], target="sql-edge-2.0"), target="sql-edge-2.0", out=tmp_path / "p")
    script = out / "08_create_class_labels.sql"
    script.write_text(script.read_text(encoding="utf-8").replace("(0, ", "(9, "), encoding="utf-8")
    with pytest.raises(og.PackagingError, match=r"holds a 08_create_class_labels.sql edited since the package"):
        dry_run(out, X)


def test_integer_and_boolean_labels_and_the_container_target_are_as_they_were(tmp_path: Path) -> None:
    X, y = _iris()
    numbers = _logistic().fit(X, np.array([3, 7, 11])[(y == LABELS[1]) + 2 * (y == LABELS[2])])
    conv = og.convert(numbers, X[:5], target="sql-edge-2.0")
    assert conv.signature.output("label").labels is None
    out = og.package(conv, target="sql-edge-2.0", out=tmp_path / "ints")
    assert not (out / "08_create_class_labels.sql").exists() and "class_labels" not in json.loads(
        (out / "manifest.json").read_text(encoding="utf-8"))["sql"]
    # a target that returns text keeps the text labels
    text = og.convert(_logistic().fit(X, y), X[:5], target="container")
    assert text.signature.output("label").elem_type == "string"
    assert not any("code of each class" in w for w in text.warnings)


def test_a_text_label_file_converted_without_the_target_is_told_to_convert_for_it() -> None:
    X, y = _iris()
    model = _logistic().fit(X, y)
    report = og.validate(og.convert(model, X[:5]), "sql-edge-2.0")
    message = report.check("outputs_element_types").message
    assert "'label' is string (use a numeric output: for a classifier with text labels, convert it for this target " \
           "(onnxgate convert --target sql-edge-2.0, or onnxgate.adapt)" in message


def _label_codes_permuted(model: Any, where: str) -> Any:
    """``model`` with classes 1 and 2 swapped in its record of the labels, in the LabelEncoder computing the codes,
    or in both (then the file is consistent, but its codes are no longer the positions of classes_)."""
    import onnx

    proto = onnx.ModelProto()
    proto.CopyFrom(model)
    if where in ("record", "both"):
        labels = og.Signature.from_model(proto).output("label").labels or ()
        proto = _with_labels(proto, [labels[0], labels[2], labels[1]])
    if where in ("encoder", "both"):
        (encoder,) = [n for n in proto.graph.node if n.op_type == "LabelEncoder"]
        (keys,) = [a for a in encoder.attribute if a.name in ("keys_strings", "classes_strings")]
        keys.strings[:] = [keys.strings[0], keys.strings[2], keys.strings[1]]
    return proto


@pytest.mark.parametrize("where", ["record", "encoder", "both"])
@pytest.mark.parametrize("make", [_logistic, _lightgbm], ids=["logreg", "lightgbm"])
def test_label_codes_permuted_fail_on_data_of_one_class_whose_code_is_unchanged(make: Any, where: str) -> None:
    # rows of class 0 only: parity compared the reference's labels as the codes the record gives them, and class
    # 0 keeps code 0, so a record or encoder permuted on classes 1 and 2 passed, and the package's label table
    # then named every row of class 1 as class 2
    X, y = _iris()
    model = make().fit(X, y)
    conv = og.convert(model, X[:5], target="sql-edge-2.0")
    one = X[y == model.classes_[0]]
    broken = _label_codes_permuted(conv.model, where)

    parity = og.validate(broken, "sql-edge-2.0", reference=model, data=one).check("prediction_parity")

    assert not parity.passed
    assert parity.details["class_order"]["reference"] == list(model.classes_)
    assert "whatever rows the data holds" in parity.message
    assert ("rather than edit the label codes" if where == "encoder" else "rather than edit the record") \
        in parity.message
    assert og.validate(conv, "sql-edge-2.0", reference=model, data=one).passed


def test_a_text_label_file_says_which_classes_no_row_answered() -> None:
    # the classes never answered were counted on the label output's codes against the text classes_: none matched,
    # and the note was lost for every text-label SQL file, which a container file of the same model says
    X, y = _iris()
    model = _logistic().fit(X, y)
    one = X[y == model.classes_[0]]
    for target in ("sql-edge-2.0", "container"):
        parity = og.validate(og.convert(model, X[:5], target=target), target, reference=model,
                             data=one).check("prediction_parity")
        assert "labels seen: 1 of 3 classes" in parity.message, target
        assert parity.details["classes_seen"]["not_seen"] == list(model.classes_[1:]), target


#: labels the scripts could not hold as N'' literals: sqlcmd and SSMS end a batch at a line 'GO' and read '$(x)' as a
#: variable even inside a literal (a line break, CR LF, a tab, NUL, a Unicode line separator)
CONTROL_LABELS = ["two\nlines", "GO\r\nGO", "tab\there", "nul\x00", "sep\u2028$(x)"]


def test_labels_holding_line_breaks_and_nul_are_packaged_and_dry_run_on_the_command_line(
        tmp_path: Path, monkeypatch: Any, capsys: Any) -> None:
    # validate passed such a model and package then refused it ("holds a control character"): the scripts now
    # write those characters as NCHAR(n) outside any literal, and the dry run gives back every label as it is
    import skops.io

    from onnxgate.cli import main
    from onnxgate.deploy.duckdb_dryrun import duckdb_statements

    monkeypatch.chdir(tmp_path)
    X, y = _iris()
    labels = np.array(CONTROL_LABELS, dtype=object)
    y5 = labels[(np.searchsorted(LABELS, y) + 3 * (X[:, 0] > 6.0)) % 5]
    model = _logistic().fit(X, y5)
    skops.io.dump(model, "model.skops")
    np.save("rows.npy", X)
    assert main(["convert", "model.skops", "--sample", "rows.npy", "--target", "sql-edge-2.0", "-o",
                 "model.onnx"]) == 0
    assert main(["validate", "model.onnx", "--target", "sql-edge-2.0", "--reference", "model.skops", "--data",
                 "rows.npy"]) == 0
    capsys.readouterr()
    assert main(["package", "model.onnx", "--target", "sql-edge-2.0", "-o", "pkg", "--reference", "model.skops",
                 "--data", "rows.npy", "--model-name", "m"]) == 0, capsys.readouterr().err
    assert main(["sql-dryrun", "pkg", "--data", "rows.npy", "--reference", "model.skops"]) == 0
    assert "text labels of 'label' by 08_create_class_labels.sql and 09_predict_labels.sql's join: 150 rows, each " \
           "the label its code stands for" in capsys.readouterr().out
    script = (tmp_path / "pkg" / "08_create_class_labels.sql").read_text(encoding="utf-8")
    # no line of the script holds what sqlcmd acts on: each character is NCHAR(n), '$(' split in two literals
    assert "\r" not in script and "\x00" not in script and "\t" not in script and "$(" not in script
    assert all(line.strip().upper() != "GO" for line in script.splitlines())
    assert "VALUES (0, CONCAT(N'GO', NCHAR(13), NCHAR(10), N'GO'));" in script
    import duckdb

    con = duckdb.connect()
    con.execute('CREATE SCHEMA "dbo"')
    for statement in duckdb_statements(script):
        con.execute(statement)
    assert [t for _, t in con.sql('SELECT "code", "class" FROM "dbo"."m_label_classes" ORDER BY "code"').fetchall()] \
        == list(model.classes_)
    readme = (tmp_path / "pkg" / "README.md").read_text(encoding="utf-8")
    assert "0 `GO\\r\\nGO`" in readme and "\x00" not in readme


def test_category_texts_in_and_text_labels_out_by_one_query_on_the_command_line(
        tmp_path: Path, monkeypatch: Any, capsys: Any) -> None:
    # a model reading text categories as codes (06/07) and returning text labels as codes (08/09) had no query taking
    # the texts in and giving the labels out; 10_predict_labels_from_text.sql does, and the dry run runs it
    import pandas as pd
    import skops.io
    from sklearn.compose import make_column_transformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    from onnxgate.cli import main
    from onnxgate.deploy.duckdb_dryrun import dry_run

    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    rows = pd.DataFrame({"color": rng.choice(["red\nwine", "blue", "O'Brien"], 200), "x": rng.normal(size=200)})
    y = np.where((rows["color"] == "blue") ^ (rows["x"] > 0), "yes\tsure", "no")
    model = make_pipeline(make_column_transformer((OneHotEncoder(), ["color"]), remainder="passthrough"),
                          _logistic()).fit(rows, y)
    skops.io.dump(model, "model.skops")
    rows.to_parquet("rows.parquet")
    assert main(["convert", "model.skops", "--sample", "rows.parquet", "--target", "sql-edge-2.0", "-o",
                 "model.onnx"]) == 0
    assert main(["package", "model.onnx", "--target", "sql-edge-2.0", "-o", "pkg", "--reference", "model.skops",
                 "--data", "rows.parquet", "--model-name", "m"]) == 0, capsys.readouterr().err
    capsys.readouterr()
    assert main(["sql-dryrun", "pkg", "--data", "rows.parquet", "--reference", "model.skops"]) == 0
    assert "text labels of 'label' by 08_create_class_labels.sql and 10_predict_labels_from_text.sql's join (texts " \
           "in, labels out): 200 rows, each the label its code stands for" in capsys.readouterr().out
    query = (tmp_path / "pkg" / "10_predict_labels_from_text.sql").read_text(encoding="utf-8")
    assert "FROM PREDICT(MODEL = @model, DATA = [coded] AS d, RUNTIME = ONNX)" in query
    assert "LEFT JOIN [dbo].[m_label_classes] AS c0 ON c0.[code] = p.[label];" in query
    assert "`10_predict_labels_from_text.sql` does both at once" in (tmp_path / "pkg" / "README.md").read_text(
        encoding="utf-8")
    # the labels the query gives the rows' texts are the classifier's own
    result = dry_run(tmp_path / "pkg", rows, reference=model)
    assert result.text_labels["label"] == list(model.predict(rows))
    # a query edited since the package was written is refused, not run
    path = tmp_path / "pkg" / "10_predict_labels_from_text.sql"
    path.write_text(query.replace("c0.[class] AS [label]", "N'no' AS [label]"), encoding="utf-8")
    capsys.readouterr()
    assert main(["sql-dryrun", "pkg", "--data", "rows.parquet"]) == 2
    assert "holds a 10_predict_labels_from_text.sql edited since the package was written" in capsys.readouterr().err


def test_score_writes_the_text_labels_of_a_file_converted_for_a_sql_target(tmp_path: Path, monkeypatch: Any) -> None:
    # the label column held the int32 codes PREDICT returns, which no reader could tell apart from integer labels;
    # it holds the text labels now, as 09_predict_labels.sql and the classifier itself give them
    import pandas as pd
    import pyarrow.parquet as pq

    from onnxgate.cli import main

    monkeypatch.chdir(tmp_path)
    X, y = _iris()
    rows = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    model = _logistic().fit(rows, y)
    og.convert(model, rows.head(), target="sql-edge-2.0").save("model.onnx")
    rows.to_parquet("rows.parquet")
    assert main(["score", "model.onnx", "--data", "rows.parquet", "--out", "scored.parquet"]) == 0
    scored = pq.read_table("scored.parquet")
    assert str(scored.schema.field("label").type) == "string"
    assert scored.column("label").to_pylist() == list(model.predict(rows))
    # the probabilities are as before, one column per class
    probabilities = scored.select([n for n in scored.column_names if n.startswith("p_")]).to_pandas().to_numpy()
    np.testing.assert_allclose(probabilities, model.predict_proba(rows), atol=1e-5)
