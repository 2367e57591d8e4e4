"""The reference answers the user's own rows, not the rows as the file's input type rounds them."""

from __future__ import annotations

import numpy as np
import pandas as pd

import onnxgate as og


def test_a_float32_file_of_a_float64_model_fails_on_the_users_float64_rows() -> None:
    # converted with a float32 sample, the file reads float32; validate rounded the user's float64 rows for the
    # reference too, and passed a file whose labels differ from the model's on 61 of 3,000 rows (helper-129)
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(0)
    rows = pd.DataFrame({"lat": np.round(40.70 + rng.random(3000) * 0.01, 6),
                         "lon": np.round(-74.00 + rng.random(3000) * 0.01, 6)})
    y = ((np.floor(rows["lat"] * 2e4) + np.floor(rows["lon"] * 2e4)) % 2).astype(int)
    model = HistGradientBoostingClassifier(max_iter=60, max_leaf_nodes=63, random_state=0).fit(rows, y)
    narrow = og.convert(model, rows.astype(np.float32).head())
    assert {s.elem_type for s in narrow.signature.inputs} == {"float32"}
    report = og.validate(narrow, reference=model, data=rows)
    assert not report.check("prediction_parity").passed, str(report)
    assert "label" in report.check("prediction_parity").message
    # the same model converted from its own float64 rows passes, and float32 rows pass the float32 file
    assert og.validate(og.convert(model, rows.head()), reference=model, data=rows).passed
    assert og.validate(narrow, reference=model, data=rows.astype(np.float32)).passed
