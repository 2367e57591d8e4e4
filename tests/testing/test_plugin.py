"""The pytest plugin, run the way a user runs it: a fixture, a marker and parametrize_with_checks."""

from __future__ import annotations

from pathlib import Path

import pytest

import onnxgate as og

pytest_plugins = ["pytester"]
# Each inner run is a subprocess: run in this process, pytester drops the modules the run imported
# when it ends (numpy.fft, scipy...), and the next test of this worker that imports them again fails
# with numpy's "cannot load module more than once per process".


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A model that meets sql-edge-1.0 (one float column per input, opset 12) and one that does not (opset 18)."""
    import numpy as np
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    folder = tmp_path_factory.mktemp("models")
    X, y = load_diabetes(return_X_y=True)
    frame = pd.DataFrame(X.astype(np.float32), columns=[f"f{i}" for i in range(X.shape[1])])
    columns = list(frame.columns)
    model = make_pipeline(ColumnTransformer([("num", StandardScaler(), columns)]), Ridge()).fit(frame, y)
    og.convert(model, frame, opset=12).save(folder / "good.onnx")
    og.convert(model, frame, opset=18).save(folder / "bad.onnx")
    return {"good": folder / "good.onnx", "bad": folder / "bad.onnx"}


def test_fixture_passes_and_fails(pytester: pytest.Pytester, models: dict[str, Path]) -> None:
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.onnxgate(target="sql-edge-1.0")
        def test_good(onnxgate_validate):
            report = onnxgate_validate({str(models["good"])!r})
            assert report.passed

        @pytest.mark.onnxgate(target="sql-edge-1.0")
        def test_bad(onnxgate_validate):
            onnxgate_validate({str(models["bad"])!r})

        def test_bad_without_raising(onnxgate_validate):
            report = onnxgate_validate({str(models["bad"])!r}, target="sql-edge-1.0", raise_on_failure=False)
            assert not report.passed
            assert report.check("opset_within_caps").passed is False
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*test_bad*", "*ValidationFailedError*opset_within_caps*"])


@pytest.fixture(scope="module")
def iris(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """iris rows (X.npy), a logistic regression fitted on them (ref.onnx) and one that disagrees (other.onnx).

    Module-scoped, so set up before the test's ``pytester``: pytester drops from ``sys.modules`` what the test
    imported once it ends, and sklearn imported in a test body took numpy.fft with it; the next test of the
    worker importing it failed with numpy's "cannot load module more than once per process" (which test came
    next depended on xdist's scheduling: flaky under load).
    """
    import numpy as np
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    folder = tmp_path_factory.mktemp("iris")
    X, y = load_iris(return_X_y=True)
    np.save(folder / "X.npy", X)
    og.convert(LogisticRegression(max_iter=1000).fit(X[:100], y[:100]), X[:5]).save(folder / "other.onnx")
    og.convert(LogisticRegression(max_iter=1000).fit(X, y), X[:5]).save(folder / "ref.onnx")
    return folder


def test_a_parity_failure_in_the_fixture_shows_the_rows(pytester: pytest.Pytester, iris: Path) -> None:
    # the fixture's error named the check and the counts only; assert_parity quoted the rows
    pytester.makepyfile(
        f"""
        import numpy as np

        def test_parity(onnxgate_validate):
            onnxgate_validate({str(iris / "other.onnx")!r}, reference={str(iris / "ref.onnx")!r},
                              data=np.load({str(iris / "X.npy")!r}))
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*ValidationFailedError*", "*output 'label' (exact): * rows*",
                                 "*row *: inputs * reference * onnx *"])


def test_parametrize_with_checks_gives_one_test_per_check(pytester: pytest.Pytester, models: dict[str, Path]) -> None:
    pytester.makepyfile(
        f"""
        from onnxgate.testing import parametrize_with_checks

        @parametrize_with_checks([{str(models["good"])!r}, {str(models["bad"])!r}], target="sql-edge-1.0")
        def test_model(model, check):
            check(model)
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v")
    result.stdout.fnmatch_lines([
        "*test_model?good.onnx-opset_within_caps? PASSED*",
        "*test_model?good.onnx-inputs_one_per_column? PASSED*",
        "*test_model?bad.onnx-opset_within_caps? FAILED*",
    ])
    outcomes = result.parseoutcomes()
    assert outcomes["failed"] >= 1 and outcomes["passed"] >= 5


def test_parametrize_with_checks_adds_parity_for_conversions() -> None:
    from onnxgate.testing import model_checks

    model, X, _y = og.zoo.get("sklearn-iris-logreg").build()
    conv = og.convert(model, X)
    names = [c.name for c in model_checks(conv, "onnxruntime", search=50)]
    assert names[-2:] == ["prediction_parity", "search_divergences"]
    for check in model_checks(conv, "onnxruntime"):
        assert check(conv).passed
    # a path model without a reference: the search asked for is a skipped test saying why, not left out
    # (the documented example searched nothing for it, without a word; helper-95)
    (search,) = [c for c in model_checks(conv.model, "onnxruntime", search=50) if c.name == "search_divergences"]
    with pytest.raises(pytest.skip.Exception, match="no reference"):
        search(conv.model)


def test_seed_option_reaches_the_search(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import onnxgate as og

        def test_seed(onnxgate_validate):
            model, X, _ = og.zoo.get("sklearn-iris-logreg").build()
            conv = og.convert(model, X)
            report = onnxgate_validate(conv, search=20, search_time_limit=10)
            assert report.seed == 7
            assert report.check("search_divergences").details["seed"] == 7
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--onnxgate-seed", "7")
    result.assert_outcomes(passed=1)
    # a negative seed is a usage error at start-up, not a failure of every test using the fixture (helper-98)
    refused = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--onnxgate-seed", "-3")
    assert refused.ret == pytest.ExitCode.USAGE_ERROR
    refused.stderr.fnmatch_lines(["*expected a seed of 0 or more, found '-3'*"])


@pytest.mark.parametrize("name", ["inputs_one_per_column", "outputs_one_value_per_row"])
def test_a_failing_structural_check_raises_the_validation_error_with_its_offenders(name: str) -> None:
    from onnxgate.testing import model_checks

    model, X, _y = og.zoo.get("sklearn-iris-logreg").build()
    conv = og.convert(model, X)  # one [N,4] input and an [N,3] output: not PREDICT-shaped
    (check,) = [c for c in model_checks(conv, "sql-edge-2.0") if c.name == name]
    with pytest.raises(og.ValidationFailedError, match=name):
        check(conv)


def test_the_markers_seed_wins_over_the_option_and_a_misspelled_option_is_named(
        pytester: pytest.Pytester, models: dict[str, Path]) -> None:
    # --onnxgate-seed replaced the marker's seed=7 (the docs: it applies when the test gives none), and a
    # misspelled marker option surfaced as "TypeError: validate() got an unexpected keyword argument"
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.onnxgate(target="sql-edge-1.0", seed=7)
        def test_marker_seed(onnxgate_validate):
            assert onnxgate_validate({str(models["good"])!r}).seed == 7

        def test_option_seed(onnxgate_validate):
            assert onnxgate_validate({str(models["good"])!r}, target="sql-edge-1.0").seed == 1234

        @pytest.mark.onnxgate(tagret="sql-edge-1.0")
        def test_misspelled(onnxgate_validate):
            onnxgate_validate({str(models["good"])!r})
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--onnxgate-seed", "1234")
    result.assert_outcomes(passed=2, failed=1)
    out = result.stdout.str()
    assert "@pytest.mark.onnxgate got unknown option(s) ['tagret']; it takes" in out and "TypeError" not in out


def test_markers_on_a_class_and_its_method_combine(pytester: pytest.Pytester, models: dict[str, Path]) -> None:
    # the method's own marker (seed=3) dropped the class's target: the bad model passed on onnxruntime
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.onnxgate(target="sql-edge-1.0")
        class TestModel:
            @pytest.mark.onnxgate(seed=3)
            def test_bad(self, onnxgate_validate):
                assert not onnxgate_validate({str(models["bad"])!r}, raise_on_failure=False).passed

            @pytest.mark.onnxgate(seed=3)
            def test_good(self, onnxgate_validate):
                report = onnxgate_validate({str(models["good"])!r})
                assert report.target == "sql-edge-1.0" and report.seed == 3
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_a_failure_shows_the_users_line_not_onnxgates_code(pytester: pytest.Pytester, iris: Path) -> None:
    # the traceback of a failed check printed onnxgate's function bodies with their locals (the whole data
    # array among them) under the user's line; onnxgate's frames are hidden now, the evidence stays
    pytester.makepyfile(
        f"""
        import numpy as np
        import pytest
        from onnxgate.testing import assert_parity, parametrize_with_checks

        X = np.load({str(iris / "X.npy")!r})
        OTHER, REF = {str(iris / "other.onnx")!r}, {str(iris / "ref.onnx")!r}

        def test_fixture(onnxgate_validate):
            onnxgate_validate(OTHER, reference=REF, data=X)

        def test_assert_parity():
            assert_parity(REF, OTHER, X)

        @parametrize_with_checks([OTHER], reference=REF, data=X)
        def test_each(model, check):
            check(model)
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    assert outcomes["failed"] == 3, outcomes  # fixture, assert_parity, and the parity check of the three
    text = result.stdout.str()
    for line in ("onnxgate_validate(OTHER, reference=REF, data=X)", "assert_parity(REF, OTHER, X)", "check(model)"):
        assert f">       {line}" in text, line
    assert text.count("row ") >= 3  # each failure quotes the worst rows
    for body in ("known = set(inspect.signature", "failed = [r for r in results", "result = self.run(model)"):
        assert body not in text, body


def test_a_search_asked_for_and_skipped_warns_with_its_reason(pytester: pytest.Pytester, iris: Path) -> None:
    # a marker's search=300 and a call giving data but no reference: the search and parity were skipped and pytest
    # showed "1 passed" and nothing else (helper-158)
    pytester.makepyfile(
        f"""
        import numpy as np
        import pytest

        X = np.load({str(iris / "X.npy")!r})

        @pytest.mark.onnxgate(target="container", search=300)
        def test_searched(onnxgate_validate):
            onnxgate_validate({str(iris / "ref.onnx")!r}, data=X)

        def test_structure_only(onnxgate_validate):
            onnxgate_validate({str(iris / "ref.onnx")!r})
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, warnings=2)
    result.stdout.fnmatch_lines([
        "*test_searched*",
        "*OnnxgateSkippedCheck: onnxgate: prediction_parity was asked for and skipped: no reference model given*",
        "*OnnxgateSkippedCheck: onnxgate: search_divergences was asked for and skipped: no reference model given*",
    ])
    assert "test_structure_only" not in result.stdout.str()
    strict = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W",
                                           "error::onnxgate.testing.plugin.OnnxgateSkippedCheck")
    strict.assert_outcomes(passed=1, failed=1)


@pytest.fixture(scope="module")
def note_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pipeline reading the text column ``note`` (model.skops), the rows it was fitted on (rows.csv), its own file
    (right.onnx) and a file converted from a pipeline fitted without ``note`` (without.onnx)."""
    import numpy as np
    import pandas as pd
    import skops.io as sio
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    folder = tmp_path_factory.mktemp("note")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"age": rng.normal(40, 10, 80), "note": rng.choice(["new", "returning", "vip"], 80)})
    y = ((frame["age"] > 40) ^ (frame["note"] == "vip")).astype(int)
    branches = [("num", StandardScaler(), ["age"]), ("txt", OneHotEncoder(), ["note"])]
    model = make_pipeline(ColumnTransformer(branches), LogisticRegression()).fit(frame, y)
    sio.dump(model, folder / "model.skops")
    og.convert(model, frame.head(20)).save(folder / "right.onnx")
    without = make_pipeline(ColumnTransformer(branches[:1]), LogisticRegression()).fit(frame[["age"]], y)
    og.convert(without, frame[["age"]].head(20)).save(folder / "without.onnx")
    frame.to_csv(folder / "rows.csv", index=False)
    return folder


def test_data_refused_in_the_fixture_fails_the_test_with_the_message_only(
    pytester: pytest.Pytester, note_files: Path,
) -> None:
    # a label left in the rows raised InvalidDataError through onnxgate's frames (validate, the pipeline, parity,
    # as_feeds, with their bodies); and the reference's own column 'note', which the file lacks, was refused as
    # data to "drop": now a failed check, shown as the fixture shows one
    pytester.makepyfile(
        f"""
        import pandas as pd
        import skops.io as sio

        PATH = {str(note_files / "model.skops")!r}
        MODEL = sio.load(PATH, trusted=sio.get_untrusted_types(file=PATH))
        ROWS = pd.read_csv({str(note_files / "rows.csv")!r})

        def test_a_label_left_in(onnxgate_validate):
            onnxgate_validate({str(note_files / "right.onnx")!r}, reference=MODEL, data=ROWS.assign(label=1))

        def test_the_file_lacks_note(onnxgate_validate):
            onnxgate_validate({str(note_files / "without.onnx")!r}, reference=MODEL, data=ROWS)
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines([
        "*test_a_label_left_in*",
        ">*onnxgate_validate(*right.onnx*",
        "E*Failed: InvalidDataError: the data has column(s) *label* that are not model inputs*drop them*",
        "*test_the_file_lacks_note*",
        "E*ValidationFailedError*",
        "*prediction_parity*the ONNX file has no input for the column(s) *note*, which the reference reads*",
    ])
    text = result.stdout.str()
    assert "onnxgate/_data.py" not in text and "onnxgate/validators" not in text, text
    assert "During handling" not in text and "raise InvalidDataError(" not in text, text


def test_data_refused_in_parametrize_with_checks_fails_the_test_with_the_message_only(
    pytester: pytest.Pytester, note_files: Path,
) -> None:
    # check(model) raised InvalidDataError through onnxgate's frames (ModelCheck.run, the pipeline, parity,
    # as_feeds, with their bodies and the data's repr): 77 lines for one label column left in the rows
    pytester.makepyfile(
        f"""
        import pandas as pd
        import skops.io as sio
        from onnxgate.testing import parametrize_with_checks

        PATH = {str(note_files / "model.skops")!r}
        MODEL = sio.load(PATH, trusted=sio.get_untrusted_types(file=PATH))
        ROWS = pd.read_csv({str(note_files / "rows.csv")!r})

        @parametrize_with_checks([{str(note_files / "right.onnx")!r}], reference=MODEL, data=ROWS.assign(label=1))
        def test_a_label_left_in(model, check):
            check(model)

        @parametrize_with_checks([{str(note_files / "rows.csv")!r}])
        def test_not_an_onnx_file(model, check):
            check(model)
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4, failed=5)
    result.stdout.fnmatch_lines([
        "*test_a_label_left_in*prediction_parity*",
        ">*check(model)",
        "E*Failed: InvalidDataError: the data has column(s) *label* that are not model inputs*drop them*",
    ])
    result.stdout.fnmatch_lines(["*test_not_an_onnx_file*rows.csv-model_wellformed*", ">*check(model)",
                                 "E*Failed: InvalidModelError: *rows.csv*"])
    text = result.stdout.str()
    assert "onnxgate/_data.py" not in text and "onnxgate/validators" not in text, text
    assert "onnxgate/testing" not in text and "onnxgate/_onnx.py" not in text, text
    assert "During handling" not in text and "raise InvalidDataError(" not in text, text


def test_a_check_called_outside_a_test_raises_onnxgates_error_though_pytest_is_imported(tmp_path: Path) -> None:
    # "imported" was taken for "running": a script or notebook that had imported pytest (or a library that does) got
    # pytest's Failed for data onnxgate refused, which `except Exception` does not catch, and Skipped for a skip
    import os
    import subprocess
    import sys

    script = tmp_path / "gate.py"
    script.write_text(
        "import pytest\n"
        "import onnxgate as og\n"
        "from onnxgate.testing import model_checks\n"
        "model, X, _ = og.zoo.get('sklearn-iris-logreg').build()\n"
        "conv = og.convert(model, X[:5])\n"
        "(check,) = [c for c in model_checks(conv, reference=model, data=X[:, :3]) if c.name == 'prediction_parity']\n"
        "try:\n"
        "    check(conv)\n"
        "except Exception as err:\n"
        "    print('RAISED', type(err).__name__)\n"
        "(search,) = [c for c in model_checks(conv.model, search=50) if c.name == 'search_divergences']\n"
        "print('SKIPPED', search(conv.model).skipped)\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}  # a script, not a test
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, env=env,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("\n")[:2] == ["RAISED InvalidDataError", "SKIPPED True"], done.stdout


def test_a_skipped_check_and_a_strict_skipped_warning_point_at_the_users_line(
    pytester: pytest.Pytester, iris: Path,
) -> None:
    # "SKIPPED [1] .../onnxgate/testing/checks.py:144: search_divergences: ..." named onnxgate's line for a check
    # that does not apply; under -W error::...OnnxgateSkippedCheck the failure showed _warn_skipped_requests' body
    pytester.makepyfile(
        f"""
        import numpy as np
        import pytest
        from onnxgate.testing import parametrize_with_checks

        @parametrize_with_checks([{str(iris / "ref.onnx")!r}], target="container", search=10)
        def test_each(model, check):
            check(model)

        @pytest.mark.onnxgate(target="container")
        def test_asked_for_parity(onnxgate_validate):
            onnxgate_validate({str(iris / "ref.onnx")!r}, data=np.load({str(iris / "X.npy")!r}))
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rs", "-W",
                                           "error::onnxgate.testing.plugin.OnnxgateSkippedCheck")
    result.assert_outcomes(passed=8, skipped=1, failed=1)
    result.stdout.fnmatch_lines([">*onnxgate_validate(*data=np.load(*",
                                 "E*OnnxgateSkippedCheck: onnxgate: prediction_parity was asked for and skipped*",
                                 "SKIPPED [[]1[]] test_a_skipped_check_and_a_strict_skipped_warning_point_at*.py:7: "
                                 "search_divergences: no reference model given*"])
    text = result.stdout.str()
    assert "onnxgate/testing" not in text and "warnings.warn(" not in text, text


def test_assert_parity_refusing_a_file_or_rows_shows_the_users_line_and_the_message(
    pytester: pytest.Pytester, iris: Path,
) -> None:
    # a text file named .onnx (or rows of the wrong width) given to assert_parity printed 40 lines through parity's
    # and the loader's bodies; the error keeps its type (pytest.raises(InvalidModelError) still catches it)
    pytester.makepyfile(
        f"""
        import numpy as np
        import pytest
        import onnxgate as og
        from onnxgate.testing import assert_parity

        X = np.load({str(iris / "X.npy")!r})
        REF = {str(iris / "ref.onnx")!r}

        def test_not_onnx(tmp_path):
            (tmp_path / "m.onnx").write_text("hello")
            assert_parity(REF, str(tmp_path / "m.onnx"), X)

        def test_narrow_rows():
            assert_parity(REF, REF, X[:, :2])

        def test_still_catchable():
            with pytest.raises(og.InvalidDataError, match="expects 4 values per row"):
                assert_parity(REF, REF, X[:, :2])
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines([">*assert_parity(REF, str(tmp_path / \"m.onnx\"), X)",
                                 "E*InvalidModelError: *m.onnx* is not a valid ONNX model*",
                                 ">*assert_parity(REF, REF, X[[]:, :2[]])",
                                 "E*InvalidDataError: input 'input' expects 4 values per row*"])
    text = result.stdout.str()
    assert "onnxgate/validators" not in text and "onnxgate/_data.py" not in text, text
    assert "onnxgate/testing" not in text and "load_model_and_data_files" not in text, text


def _entry_point_as_declared(pytester: pytest.Pytester) -> None:
    """Make the inner run load pyproject.toml's ``pytest11`` entry point, not the one of the installed metadata.

    The inner run's folder is the first entry of its ``sys.path`` (``python -m pytest``), so a distribution found there
    comes first and pytest skips the installed one of the same name: the test reads the entry point as written in
    this checkout, even where the environment was installed from an older one.
    """
    import tomllib

    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text(encoding="utf-8"))
    declared = pyproject["project"]["entry-points"]["pytest11"]
    info = pytester.mkdir("onnxgate_declared-0.dist-info")
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: onnxgate-declared\nVersion: 0\n", encoding="utf-8")
    lines = "".join(f"{name} = {target}\n" for name, target in declared.items())
    (info / "entry_points.txt").write_text(f"[pytest11]\n{lines}", encoding="utf-8")


@pytest.mark.parametrize("how", ["conftest", "option"])
def test_a_suite_that_names_the_plugin_runs_where_onnxgate_is_installed(pytester: pytest.Pytester, how: str) -> None:
    """A suite written where onnxgate was only on PYTHONPATH names the plugin itself; installed, onnxgate loads it too
    through its entry point. The run stopped before any test, ``ValueError: Plugin already registered under a
    different name`` (helper-411)."""
    _entry_point_as_declared(pytester)
    pytester.makepyfile("def test_fixture(onnxgate_validate):\n    assert callable(onnxgate_validate)\n")
    named = ["-p", "onnxgate.testing.plugin"] if how == "option" else []
    if how == "conftest":
        pytester.makeconftest('pytest_plugins = ["onnxgate.testing.plugin"]\n')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *named)
    assert "already registered" not in result.stderr.str() + result.stdout.str()
    result.assert_outcomes(passed=1)


def test_the_entry_point_loads_the_plugin_and_can_be_turned_off(pytester: pytest.Pytester) -> None:
    _entry_point_as_declared(pytester)
    pytester.makepyfile("def test_fixture(onnxgate_validate):\n    assert callable(onnxgate_validate)\n")
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)
    assert "--onnxgate-seed" in pytester.runpytest_subprocess("-p", "no:cacheprovider", "--help").stdout.str()
    off = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:onnxgate")
    off.assert_outcomes(errors=1)
    off.stdout.fnmatch_lines(["*fixture 'onnxgate_validate' not found*"])
