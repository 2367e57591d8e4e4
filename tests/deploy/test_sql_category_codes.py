"""A SQL package of a model that reads a text category column as its codes says which code is which category:
``06_create_category_codes.sql`` creates and fills a table of the codes of each such column, and
``07_predict_from_text.sql`` scores rows holding the texts, each joined to its code. The DuckDB dry run runs both
scripts on the rows' texts and scores the codes the join gives, compared with the model on the same text. Before,
the code -> category mapping was only in model.onnx's metadata and convert's warning: a database user had no
table to map a text column with."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import onnxgate as og

pd = pytest.importorskip("pandas")
pytest.importorskip("duckdb")

TARGET = "sql-edge-2.0"
#: a quote and a bracket (closing a T-SQL string and identifier), text outside ASCII, and a statement's text
CATEGORIES = ["O'Brien]", "café", "red", "x]; DROP TABLE t;--"]


def _fitted(missing: bool = False) -> tuple[Any, Any]:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.default_rng(5)
    colour = rng.choice(CATEGORIES, 300).astype(object)
    if missing:
        colour[::9] = None
    frame = pd.DataFrame({"x": rng.normal(size=300), "colour": pd.Categorical(colour, categories=CATEGORIES)})
    weight = frame["colour"].map(dict(zip(CATEGORIES, [2.0, -1.5, 0.5, -2.0]))).astype(float).fillna(1.0)
    y = (weight + frame["x"] > 0).astype(int).to_numpy()
    encoder = OneHotEncoder(handle_unknown="ignore")
    model = make_pipeline(ColumnTransformer([("oh", encoder, ["colour"]), ("num", "passthrough", ["x"])]),
                          LogisticRegression()).fit(frame, y)
    return model, frame


def _text_rows(frame: Any, unknown: bool = True) -> Any:
    """60 rows with the colours as text: rows 0-2 missing and, with ``unknown``, rows 3-8 texts the model does not
    know ('violet', a category in another case, one with a trailing space)."""
    rows = frame.head(60).assign(colour=frame["colour"].head(60).astype(object))
    rows.iloc[:3, 1] = np.nan  # missing, as a category column holds it (None is an unknown text to scikit-learn)
    if unknown:
        rows.iloc[3:9, 1] = ["violet", "violet", "RED", "Red", "red ", "cafe"]
    return rows


def test_the_package_holds_a_table_of_the_codes_and_a_query_that_joins_the_texts(tmp_path: Path) -> None:
    from onnxgate.deploy.duckdb_dryrun import dry_run, duckdb_statements

    model, frame = _fitted()
    conv = og.convert(model, frame, target=TARGET)
    out = og.package(conv, target=TARGET, out=tmp_path / "p", reference=model, data=frame, model_name="shop")
    codes = (out / "06_create_category_codes.sql").read_text(encoding="utf-8")
    assert "CREATE TABLE [dbo].[shop_colour_codes] (" in codes
    # every category a quoted N'' literal, its code its position among the model's (sorted) categories
    categories = sorted(CATEGORIES)
    for code, category in enumerate(categories):
        literal = "N'" + category.replace("'", "''") + "'"
        assert f"INSERT INTO [dbo].[shop_colour_codes] ([code], [category]) VALUES ({code}, {literal});" in codes
    assert "N'O''Brien]'" in codes and "N'café'" in codes
    statements = duckdb_statements(codes)
    assert sum(s.startswith("INSERT INTO") for s in statements) == len(CATEGORIES)  # no literal split a statement
    query = (out / "07_predict_from_text.sql").read_text(encoding="utf-8")
    assert "LEFT JOIN [dbo].[shop_colour_codes] AS c1" in query
    assert "COALESCE(c1.[code], -1) AS [colour]" in query and "FROM [dbo].[shop_input_text] AS t" in query
    assert "DATA = [coded] AS d" in query
    readme = (out / "README.md").read_text(encoding="utf-8")
    assert "`07_predict_from_text.sql` scores its rows" in readme and "`dbo.shop_colour_codes` | 4 |" in readme
    assert "## Text category columns: their codes" in readme and "A NULL text is -1 in every column" in readme

    rows = _text_rows(frame)
    result = dry_run(out, rows, reference=model)
    assert result.passed, str(result)
    assert result.joined == ["colour"]
    np.testing.assert_allclose(np.stack([result.result.column(f"p_{k}").to_numpy() for k in range(2)], axis=1),
                               model.predict_proba(rows), atol=1e-5)
    # the unknown texts (another case, a trailing space) are -1, as the model reads them: not red
    assert result.result.column("colour").to_pylist()[:9] == [-1] * 9


def test_a_column_whose_unknown_text_is_not_missing_gives_null_for_it_and_minus_one_for_null(tmp_path: Path) -> None:
    """An encoder fitted on a column with gaps learnt a missing category: -1 is that category's code, and a text
    none of the categories is no missing value to the model: the query gives it NULL, and a NULL text -1."""
    from onnxgate.deploy.duckdb_dryrun import dry_run

    model, frame = _fitted(missing=True)
    conv = og.convert(model, frame, target=TARGET)
    out = og.package(conv, target=TARGET, out=tmp_path / "p", reference=model, data=frame)
    query = (out / "07_predict_from_text.sql").read_text(encoding="utf-8")
    assert "CASE WHEN t.[colour] IS NULL THEN -1 ELSE c1.[code] END AS [colour]" in query
    assert "keep such rows out" in query
    rows = _text_rows(frame, unknown=False)
    result = dry_run(out, rows, reference=model)
    assert result.passed and result.joined == ["colour"], str(result)
    np.testing.assert_allclose(result.result.column("p_1").to_numpy(), model.predict_proba(rows)[:, 1], atol=1e-5)


def test_an_edited_codes_script_is_refused_by_the_dry_run(tmp_path: Path) -> None:
    from onnxgate.deploy.duckdb_dryrun import dry_run

    model, frame = _fitted()
    out = og.package(og.convert(model, frame, target=TARGET), target=TARGET, out=tmp_path / "p", reference=model,
                     data=frame)
    script = out / "06_create_category_codes.sql"
    script.write_text(script.read_text(encoding="utf-8").replace("VALUES (0,", "VALUES (2,"), encoding="utf-8")
    with pytest.raises(og.errors.PackagingError, match=r"06_create_category_codes\.sql edited since"):
        dry_run(out, _text_rows(frame), reference=model)


def test_integer_categories_whose_codes_are_not_their_values_get_a_table_of_codes(tmp_path: Path) -> None:
    """XGBoost over a pandas category column of 7, 11, 23, 42 reads the codes 0..3, not the values a table holds:
    its SQL package had no table of codes and no word of it, so rows loaded as they are (7, 42) were read as codes.
    Now 06 maps each value to its code and 07 joins the rows' values to them, which the dry run runs."""
    from onnxgate.deploy.duckdb_dryrun import dry_run

    xgb = pytest.importorskip("xgboost")
    rng = np.random.default_rng(0)
    values = [7, 11, 23, 42]
    frame = pd.DataFrame({"x": rng.normal(size=200), "n": pd.Categorical(rng.choice(values, 200), categories=values)})
    y = (frame["n"].astype(int).isin([7, 42]).astype(float) + frame["x"] > 0.5).astype(int)
    model = xgb.XGBClassifier(n_estimators=5, max_depth=3, enable_categorical=True, tree_method="hist").fit(frame, y)
    conv = og.convert(model, frame.head(50), target=TARGET)
    assert conv.signature.input("n").codes == ((0, tuple(values)),)
    out = og.package(conv, target=TARGET, out=tmp_path / "p", reference=model, data=frame, model_name="shop")
    codes = (out / "06_create_category_codes.sql").read_text(encoding="utf-8")
    assert "[category] bigint NOT NULL" in codes and "[n] bigint NULL" in codes
    for code, value in enumerate(values):
        assert f"INSERT INTO [dbo].[shop_n_codes] ([code], [category]) VALUES ({code}, {value});" in codes
    query = (out / "07_predict_from_text.sql").read_text(encoding="utf-8")
    assert "ON c1.[category] = t.[n]" in query
    readme = (out / "README.md").read_text(encoding="utf-8")
    assert "7 is code 0, 11 is code 1" in readme
    # the section is worded for numbers: its heading called them text, and the table "a text none of them"
    assert "## Number category columns: their codes" in readme and "Text category" not in readme
    assert "| a value none of them |" in readme and "A NULL value is -1 in every column" in readme
    assert "a NULL text" not in readme and "each value joined to its code." in readme
    rows = frame.head(30).copy()
    rows.iloc[:2, 1] = np.nan  # missing: -1, as XGBoost reads a missing category
    result = dry_run(out, rows, reference=model)
    assert result.passed and result.joined == ["n"], str(result)
    assert result.result.column("n").to_pylist()[:2] == [-1, -1]
    np.testing.assert_allclose(result.result.column("p_1").to_numpy(), model.predict_proba(rows)[:, 1], atol=1e-5)


def test_a_package_of_text_and_number_category_columns_words_its_readme_for_both(tmp_path: Path) -> None:
    """XGBoost over a pandas category column of text and one of integers: the README's section on their codes was
    headed "Text category columns" and spoke of texts only; it now names both kinds."""
    xgb = pytest.importorskip("xgboost")
    rng = np.random.default_rng(1)
    values = [7, 11, 23]
    frame = pd.DataFrame({"x": rng.normal(size=200),
                          "n": pd.Categorical(rng.choice(values, 200), categories=values),
                          "band": pd.Categorical(rng.choice(["red", "blue"], 200), categories=["red", "blue"])})
    y = (frame["n"].astype(int).eq(7).astype(float) + frame["band"].eq("red") + frame["x"] > 1).astype(int)
    model = xgb.XGBClassifier(n_estimators=5, max_depth=3, enable_categorical=True, tree_method="hist").fit(frame, y)
    conv = og.convert(model, frame.head(50), target=TARGET)
    out = og.package(conv, target=TARGET, out=tmp_path / "p", reference=model, data=frame, model_name="shop")
    readme = (out / "README.md").read_text(encoding="utf-8")
    assert "## Text and number category columns: their codes" in readme, readme
    assert "holding their values (text, or numbers where the categories are numbers)" in readme
    assert "a text compared exactly" in readme and "A NULL value is -1 in every column" in readme
