"""Hostile model files: corrupt, truncated, foreign, absurd, or reaching outside their folder.

Every one is refused with ``InvalidModelError`` by the API (``load_model`` and ``og.validate``) and
with exit code 2 and one stderr line by ``onnxgate validate``, quickly, before onnxruntime sees it.
A bit flip may leave a model that still loads: then ``validate`` returns a ``Report``, never crashes.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import os
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from onnxgate._onnx import load_model
from onnxgate.errors import InvalidModelError, OnnxGateError

# How long a rejection or a validation of a hostile file takes is measured by bench/bench_robustness.py
# (a wall-clock bound in a test would depend on the machine).
#: Peak RSS bound for a subprocess validating one hostile file.
MAX_CHILD_RSS_MB = 400  # measured about 80 MB
#: Growth of this process's peak RSS allowed across a whole Hypothesis run.
MAX_PEAK_GROWTH_MB = 300
TARGETS = ("onnxruntime", "sql-edge-2.0")

HYPOTHESIS = settings(
    max_examples=60,
    deadline=None,  # time is asserted per case below, with a bound that tolerates a loaded CI box
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)


def _validate() -> Callable[..., Any]:
    import onnxgate as og

    return og.validate


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class SessionSpy:
    """Counts onnxruntime sessions built, to prove a rejected file never reached the runtime."""

    def __init__(self) -> None:
        self.created = 0


@pytest.fixture
def session_spy(monkeypatch: pytest.MonkeyPatch) -> SessionSpy:
    import onnxruntime

    spy = SessionSpy()
    real = onnxruntime.InferenceSession

    class Recording(real):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            spy.created += 1
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(onnxruntime, "InferenceSession", Recording)
    return spy


def _expect_rejected(path: Path, spy: SessionSpy | None = None, match: str | None = None) -> None:
    """API and in-process CLI both refuse ``path`` as an invalid model, before building a session."""
    with pytest.raises(InvalidModelError, match=match):
        load_model(path)
    with pytest.raises(InvalidModelError, match=match):
        load_model(path.read_bytes(), base_dir=path.parent)
    validate = _validate()
    for target in TARGETS:
        with pytest.raises(InvalidModelError, match=match):
            validate(str(path), target=target)
    if spy is not None:
        assert spy.created == 0, "a rejected model reached onnxruntime"


def _expect_cli_rejected(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from onnxgate.cli import main

    capsys.readouterr()
    code = main(["validate", str(path), "--target", "sql-edge-2.0"])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "error" in lines[0] and "Traceback" not in err, err


def _expect_report_or_invalid(path: Path) -> None:
    """A damaged-but-parseable model: a Report (pass or fail) or InvalidModelError, nothing else."""
    from onnxgate.validators import Report

    validate = _validate()
    for target in TARGETS:
        try:
            report = validate(str(path), target=target)
        except OnnxGateError:
            continue  # InvalidModelError and its documented siblings are a clean refusal
        assert isinstance(report, Report), type(report)
        report.summary()  # a report must also render without crashing
        str(report)


# -- simple hostile files ---------------------------------------------------------------------------


def _tensor_bytes() -> bytes:
    import numpy as np
    from onnx import numpy_helper

    return bytes(numpy_helper.from_array(np.arange(12, dtype=np.float32), "t").SerializeToString())


def _graph_bytes() -> bytes:
    from robustness_models import tiny_mlp_model

    return bytes(tiny_mlp_model().graph.SerializeToString())


def _node_bytes() -> bytes:
    from onnx import helper

    return bytes(helper.make_node("Relu", ["x"], ["y"]).SerializeToString())


FOREIGN: dict[str, Callable[[], bytes]] = {
    "empty": lambda: b"",
    "one-zero-byte": lambda: b"\x00",
    "text": lambda: b"this is not a model\n",
    "json": lambda: b'{"ir_version": 8, "graph": {}}',
    "zip-header": lambda: b"PK\x03\x04" + b"\x00" * 64,
    "pickle": lambda: b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00K\x01.",
    "TensorProto": _tensor_bytes,
    "GraphProto": _graph_bytes,
    "NodeProto": _node_bytes,
}


@pytest.mark.parametrize("kind", sorted(FOREIGN))
def test_foreign_or_empty_file_is_refused(
    kind: str, tmp_path: Path, session_spy: SessionSpy, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(FOREIGN[kind]())
    _expect_rejected(path, session_spy)
    _expect_cli_rejected(path, capsys)


def test_folder_and_missing_file_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(InvalidModelError, match="folder"):
        load_model(tmp_path)
    with pytest.raises(InvalidModelError, match="not found"):
        load_model(tmp_path / "absent.onnx")
    _expect_cli_rejected(tmp_path / "absent.onnx", capsys)


# -- Hypothesis: truncation, bit flips, random bytes ------------------------------------------------


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hostile")


@pytest.mark.slow
@HYPOTHESIS
@given(data=st.data())
def test_truncated_model_is_refused(
    data: st.DataObject, mlp_bytes: bytes, sklearn_bytes: bytes, scratch: Path, session_spy: SessionSpy
) -> None:
    original = data.draw(st.sampled_from([mlp_bytes, sklearn_bytes]), label="model")
    cut = data.draw(st.integers(0, len(original) - 1), label="cut")
    path = scratch / "truncated.onnx"
    path.write_bytes(original[:cut])
    before = _peak_rss_mb()
    try:
        load_model(path)
    except InvalidModelError:
        pass
    else:
        # A cut on a field boundary can leave a smaller, well-formed message: then it must not run
        # as if nothing happened: validate gives a Report or refuses it.
        _expect_report_or_invalid(path)
        return
    session_spy.created = 0
    _expect_rejected(path, session_spy)
    assert _peak_rss_mb() - before < MAX_PEAK_GROWTH_MB


@pytest.mark.slow
@HYPOTHESIS
@given(data=st.data())
def test_bit_flipped_model_is_refused_or_reported(
    data: st.DataObject, mlp_bytes: bytes, sklearn_bytes: bytes, scratch: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    original = bytearray(data.draw(st.sampled_from([mlp_bytes, sklearn_bytes]), label="model"))
    flips = data.draw(st.lists(st.integers(0, len(original) * 8 - 1), min_size=1, max_size=8), label="bits")
    for bit in flips:
        original[bit // 8] ^= 1 << (bit % 8)
    path = scratch / "flipped.onnx"
    path.write_bytes(bytes(original))
    before = _peak_rss_mb()
    with contextlib.suppress(InvalidModelError):
        load_model(path)
    capfd.readouterr()
    _expect_report_or_invalid(path)
    assert _peak_rss_mb() - before < MAX_PEAK_GROWTH_MB
    # Nothing may leak to the terminal: onnxruntime's "EP Error" banner (stdout) or its error log
    # lines (stderr) would break the CLI's one-line contract.
    out, err = capfd.readouterr()
    assert "EP Error" not in out + err and "[E:onnxruntime" not in err, (out + err)[-1000:]


@pytest.mark.slow
@HYPOTHESIS
@given(blob=st.binary(min_size=0, max_size=4096))
def test_random_bytes_are_refused(blob: bytes, scratch: Path, session_spy: SessionSpy) -> None:
    path = scratch / "random.onnx"
    path.write_bytes(blob)
    try:
        load_model(path)
    except InvalidModelError:
        pass
    else:  # random bytes that happen to decode as a ModelProto with a graph: must still be handled
        _expect_report_or_invalid(path)
        return
    session_spy.created = 0
    _expect_rejected(path, session_spy)


# -- absurd dimensions ------------------------------------------------------------------------------


def _with_dims(input_dims: list[Any] | None = None, init_dims: list[int] | None = None) -> bytes:
    from robustness_models import tiny_mlp_model

    model = tiny_mlp_model()
    if input_dims is not None:
        shape = model.graph.input[0].type.tensor_type.shape
        for dim, value in zip(shape.dim, input_dims):
            dim.Clear()
            if isinstance(value, int):
                dim.dim_value = value
            else:
                dim.dim_param = value
    if init_dims is not None:
        tensor = model.graph.initializer[0]
        del tensor.dims[:]
        tensor.dims.extend(init_dims)
    return bytes(model.SerializeToString())


INVALID_DIMS: dict[str, dict[str, Any]] = {
    "negative-input-dim": {"input_dims": ["N", -4]},
    "negative-batch-dim": {"input_dims": [-1, 4]},
    "negative-initializer-dim": {"init_dims": [-4, 8]},
    "initializer-dims-overflow": {"init_dims": [2**62, 2**62]},
    "initializer-dims-mismatch-data": {"init_dims": [2**31, 2**31]},
}


@pytest.mark.parametrize("case", sorted(INVALID_DIMS))
def test_impossible_dims_are_refused(
    case: str, tmp_path: Path, session_spy: SessionSpy, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(_with_dims(**INVALID_DIMS[case]))
    _expect_rejected(path, session_spy, match="dim|shape|size")
    _expect_cli_rejected(path, capsys)


@pytest.mark.parametrize("name", [b"H0", b"tiny_mlp", b"W1"])
def test_names_that_are_not_utf8_are_refused(
    name: bytes, tmp_path: Path, session_spy: SessionSpy, capfd: pytest.CaptureFixture[str]
) -> None:
    """One corrupt byte in a name: onnxruntime would print an "EP Error" banner; we refuse first."""
    from robustness_models import tiny_mlp_model

    blob = bytearray(tiny_mlp_model().SerializeToString())
    blob[blob.index(name)] = 0xF5
    path = tmp_path / "model.onnx"
    path.write_bytes(bytes(blob))
    capfd.readouterr()
    _expect_rejected(path, session_spy, match="UTF-8")
    out, err = capfd.readouterr()
    assert out == "" and err == ""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status (Linux only)")
def test_huge_fixed_input_dims_stay_bounded(tmp_path: Path) -> None:
    """A legal but absurd input shape (2**40 x 4) must not make validate allocate it.

    Run in a subprocess so its peak RSS can be read back with ``wait4``.
    """
    path = tmp_path / "model.onnx"
    path.write_bytes(_with_dims(input_dims=[2**40, 4]))
    # The child reports its own VmHWM: wait4's ru_maxrss would also count the parent's memory, because
    # Linux carries the pre-exec high-water mark across execve (and an xdist worker holds torch and TF).
    script = (
        "import sys, onnxgate as og\n"
        "from onnxgate.errors import OnnxGateError\n"
        "try:\n"
        "    r = og.validate(sys.argv[1], target='onnxruntime')\n"
        "    print('REPORT', bool(r))\n"
        "except OnnxGateError as e:\n"
        "    print('REFUSED', type(e).__name__)\n"
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0].split()[1]\n"
        "print('VMHWM_KB', hwm)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    _pid, status, _usage = os.wait4(proc.pid, 0)
    out = proc.stdout.read() if proc.stdout else ""
    err = proc.stderr.read() if proc.stderr else ""
    assert os.waitstatus_to_exitcode(status) == 0, err[-2000:]
    assert out.startswith(("REPORT", "REFUSED")), (out, err[-2000:])
    peak_kb = int(out.split("VMHWM_KB")[1].split()[0])
    assert peak_kb / 1024 < MAX_CHILD_RSS_MB, f"peak RSS {peak_kb / 1024:.0f} MB"


@pytest.mark.parametrize("batch", [8, 2**40])
def test_fixed_batch_with_search_gives_report_or_refusal(batch: int) -> None:
    import numpy as np
    from robustness_models import tiny_mlp_model

    model = tiny_mlp_model()
    dim = model.graph.input[0].type.tensor_type.shape.dim[0]
    dim.Clear()
    dim.dim_value = batch
    try:
        report = _validate()(
            model, target="onnxruntime", reference=tiny_mlp_model(), data=np.zeros((5, 4), np.float32),
            search=20, search_time_limit=10,
        )
    except OnnxGateError:
        return
    assert not report.passed, "5 rows cannot be fed to a model whose batch is fixed"


# -- external data: missing files and path traversal ------------------------------------------------

SECRET = b"TOP-SECRET-0123456789abcdef" * 4  # 108 bytes; any leak of it would be recognisable


def _external_model(location: str, *, length: int | None = None, offset: int = 0) -> bytes:
    from onnx import TensorProto
    from robustness_models import tiny_mlp_model

    model = tiny_mlp_model()
    tensor = model.graph.initializer[2]  # W2: 8 float32 = 32 bytes
    tensor.ClearField("raw_data")
    tensor.ClearField("float_data")
    tensor.data_location = TensorProto.EXTERNAL
    del tensor.external_data[:]
    for key, value in (("location", location), ("offset", str(offset)), ("length", str(length or 32))):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    return bytes(model.SerializeToString())


class OpenRecorder:
    """Records every path opened through open(), io.open() and os.open()."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    def opened(self, path: Path) -> bool:
        wanted = os.path.realpath(path)
        return any(os.path.realpath(p) == wanted for p in self.paths)


@pytest.fixture
def open_recorder(monkeypatch: pytest.MonkeyPatch) -> OpenRecorder:
    recorder = OpenRecorder()
    real_open, real_os_open = builtins.open, os.open

    def recording_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(file, (str, bytes, os.PathLike)):
            recorder.paths.append(os.fsdecode(file))
        return real_open(file, *args, **kwargs)

    def recording_os_open(path: Any, *args: Any, **kwargs: Any) -> int:
        recorder.paths.append(os.fsdecode(path))
        return real_os_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", recording_open)
    monkeypatch.setattr(io, "open", recording_open)
    monkeypatch.setattr(os, "open", recording_os_open)
    return recorder


@pytest.fixture
def secret_layout(tmp_path: Path) -> tuple[Path, Path]:
    """``tmp/secret.bin`` outside the model folder ``tmp/model/``, with an old atime to detect reads."""
    folder = tmp_path / "model"
    folder.mkdir()
    secret = tmp_path / "secret.bin"
    secret.write_bytes(SECRET)
    stat = secret.stat()
    os.utime(secret, (stat.st_mtime - 86400, stat.st_mtime))  # relatime updates atime on the next read
    return folder, secret


def _atime_is_tracked(tmp_path: Path) -> bool:
    probe = tmp_path / "probe.bin"
    probe.write_bytes(b"x")
    stat = probe.stat()
    os.utime(probe, (stat.st_mtime - 86400, stat.st_mtime))
    before = probe.stat().st_atime
    probe.read_bytes()
    return probe.stat().st_atime != before


TRAVERSALS: dict[str, Callable[[Path, Path], str]] = {
    "dotdot": lambda folder, secret: "../secret.bin",
    "nested-dotdot": lambda folder, secret: "sub/../../secret.bin",
    "absolute": lambda folder, secret: str(secret),
    "symlink-out": lambda folder, secret: _symlink(folder / "weights.bin", secret),
    "symlinked-subfolder": lambda folder, secret: _symlink(folder / "sub", secret.parent) + "/secret.bin",
    "file-uri": lambda folder, secret: f"file://{secret}",
    "dev-zero": lambda folder, secret: "/dev/zero",
    "proc-self": lambda folder, secret: "../../../../../../../../proc/self/environ",
}


def _symlink(link: Path, target: Path) -> str:
    link.symlink_to(target)
    return link.name


@pytest.mark.parametrize("case", sorted(TRAVERSALS))
def test_external_data_outside_folder_is_refused_and_never_read(
    case: str,
    secret_layout: tuple[Path, Path],
    open_recorder: OpenRecorder,
    session_spy: SessionSpy,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder, secret = secret_layout
    atime_before = secret.stat().st_atime
    location = TRAVERSALS[case](folder, secret)
    path = folder / "model.onnx"
    path.write_bytes(_external_model(location))
    _expect_rejected(path, session_spy, match="external data")
    _expect_cli_rejected(path, capsys)
    assert not open_recorder.opened(secret), f"{secret} was opened: {open_recorder.paths}"
    if _atime_is_tracked(folder.parent):
        assert secret.stat().st_atime == atime_before, "the secret file was read"
    with pytest.raises(InvalidModelError) as info:
        load_model(path)
    assert SECRET.decode()[:10] not in str(info.value)


def test_external_data_from_bytes_without_folder_is_refused(secret_layout: tuple[Path, Path]) -> None:
    with pytest.raises(InvalidModelError, match="no folder"):
        load_model(_external_model("weights.bin"))


@pytest.mark.parametrize(
    ("case", "kwargs"),
    [
        ("missing-file", {"location": "weights.bin"}),
        ("empty-location", {"location": ""}),
        ("length-past-end", {"location": "short.bin", "length": 2**40}),
        ("offset-past-end", {"location": "short.bin", "offset": 2**40}),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_external_data_missing_or_short_is_refused(
    case: str, kwargs: dict[str, Any], tmp_path: Path, session_spy: SessionSpy,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "short.bin").write_bytes(b"\x00" * 16)
    path = tmp_path / "model.onnx"
    path.write_bytes(_external_model(**kwargs))
    _expect_rejected(path, session_spy, match="external data")
    _expect_cli_rejected(path, capsys)


def test_external_data_inside_folder_still_loads(tmp_path: Path) -> None:
    """The guard is not a blanket refusal: a well-placed external file loads and validates."""
    from robustness_models import tiny_mlp_model

    (tmp_path / "w2.bin").write_bytes(bytes(tiny_mlp_model().graph.initializer[2].raw_data))
    path = tmp_path / "model.onnx"
    path.write_bytes(_external_model("w2.bin"))
    model = load_model(path)
    assert model.graph.initializer[2].raw_data == tiny_mlp_model().graph.initializer[2].raw_data
    report = _validate()(str(path), target="onnxruntime")
    assert report.passed, str(report)


@pytest.mark.slow
@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    parts=st.lists(
        st.sampled_from(["..", ".", "sub", "secret.bin", "w.bin", "", "/", "~", "\\..", "%2e%2e", "C:"]),
        min_size=1,
        max_size=6,
    )
)
def test_any_external_location_never_reads_outside(
    parts: list[str], tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Property: whatever the location string, no file outside the model's folder is opened."""
    root = tmp_path_factory.mktemp("prop")
    folder = root / "model"
    (folder / "sub").mkdir(parents=True)
    (folder / "w.bin").write_bytes(b"\x00" * 32)
    (folder / "sub" / "w.bin").write_bytes(b"\x00" * 32)
    (root / "secret.bin").write_bytes(SECRET)
    location = "/".join(parts)
    path = folder / "model.onnx"
    path.write_bytes(_external_model(location))
    opened: list[str] = []
    real_os_open, real_open = os.open, builtins.open

    def rec_os_open(p: Any, *a: Any, **k: Any) -> int:
        opened.append(os.path.realpath(os.fsdecode(p)))
        return real_os_open(p, *a, **k)

    def rec_open(p: Any, *a: Any, **k: Any) -> Any:
        if isinstance(p, (str, bytes, os.PathLike)):
            opened.append(os.path.realpath(os.fsdecode(p)))
        return real_open(p, *a, **k)

    with monkeypatch.context() as m:
        m.setattr(os, "open", rec_os_open)
        m.setattr(builtins, "open", rec_open)
        m.setattr(io, "open", rec_open)
        with contextlib.suppress(InvalidModelError):
            load_model(path)
    inside = os.path.realpath(folder) + os.sep
    outside = [p for p in opened if not p.startswith(inside)]
    assert not outside, f"location {location!r} opened {outside}"


# -- the real CLI, as a user runs it --------------------------------------------------------------


@pytest.mark.parametrize("kind", ["empty", "TensorProto"])
def test_cli_exit_code_and_one_line(kind: str, tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(FOREIGN[kind]())
    proc = subprocess.run(
        [sys.executable, "-m", "onnxgate", "validate", str(path), "--target", "sql-edge-2.0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
