"""PyTorch sequences of any length: ``options={"dynamic_axes": ...}`` leaves axes beyond the batch dynamic,
only where the exported file answers as forward() at other lengths."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

import onnxgate as og  # noqa: E402
from onnxgate.converters import registry  # noqa: E402
from onnxgate.errors import InvalidDataError, UnsupportedModelError  # noqa: E402

STEPS = 5
FEATURES = 3
OPSETS = [17, 18]  # the TorchScript and the dynamo exporter


class Tagger(torch.nn.Module):
    """One answer per step: the output's axis 1 follows the input's."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.rnn = torch.nn.LSTM(FEATURES, 8, batch_first=True)
        self.head = torch.nn.Linear(8, 2)

    def forward(self, x: Any) -> Any:
        out, _ = self.rnn(x)
        return self.head(out)


class Unrolled(torch.nn.Module):
    """A Python loop over the steps: the TorchScript tracer unrolls it to the sample's length."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.cell = torch.nn.GRUCell(FEATURES, 4)

    def forward(self, x: Any) -> Any:
        h = torch.zeros(x.shape[0], 4)
        for t in range(x.shape[1]):
            h = self.cell(x[:, t], h)
        return h


class Flattened(torch.nn.Module):
    """A length written as a number: runs at the sample's length only."""

    def forward(self, x: Any) -> Any:
        return x.reshape(x.shape[0], STEPS * FEATURES).sum(1, keepdim=True)


class MaskedMean(torch.nn.Module):
    """Token ids and a mask of the same length: one name, one length."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.embed = torch.nn.Embedding(20, 4)

    def forward(self, tokens: Any, mask: Any) -> Any:
        summed = (self.embed(tokens) * mask.unsqueeze(-1)).sum(1)
        return summed / mask.sum(1, keepdim=True).clamp(min=1.0)


def _rows(steps: int, rows: int = 16, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((rows, steps, FEATURES), dtype=np.float32)


def _dims(value: Any) -> list[Any]:
    return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]


@pytest.mark.parametrize("opset", OPSETS)
def test_a_sequence_model_scores_sequences_of_other_lengths(opset: int) -> None:
    model = Tagger().eval()
    conv = og.convert(model, _rows(STEPS), opset=opset, options={"dynamic_axes": {"input": {1: "T"}}})
    assert _dims(conv.model.graph.input[0]) == ["N", "T", FEATURES]
    assert _dims(conv.model.graph.output[0]) == ["N", "T", 2]
    session = ort.InferenceSession(conv.model.SerializeToString(), providers=["CPUExecutionProvider"])
    for steps in (2, 9):
        data = _rows(steps, seed=steps)
        assert og.validate(conv, data=data, reference=model).passed
        with torch.no_grad():
            want = model(torch.from_numpy(data)).numpy()
        got = session.run(None, {"input": data})[0]
        assert got.shape == (16, steps, 2)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_without_the_option_other_lengths_are_refused() -> None:
    model = Tagger().eval()
    conv = og.convert(model, _rows(STEPS), opset=17)
    assert _dims(conv.model.graph.input[0]) == ["N", STEPS, FEATURES]
    with pytest.raises(InvalidDataError, match="expects 5 entries on axis 1"):
        og.validate(conv, data=_rows(9), reference=model)


def test_inputs_that_share_a_name_share_one_length() -> None:
    model = MaskedMean().eval()
    rng = np.random.default_rng(1)
    tokens = rng.integers(0, 20, size=(6, STEPS))
    mask = (rng.random((6, STEPS)) > 0.3).astype(np.float32)
    conv = og.convert(model, {"tokens": tokens, "mask": mask}, opset=17,
                      options={"dynamic_axes": {"tokens": {1: "T"}, "mask": {1: "T"}}})
    assert [_dims(v) for v in conv.model.graph.input] == [["N", "T"], ["N", "T"]]
    longer = {"tokens": rng.integers(0, 20, size=(30, 11)), "mask": (rng.random((30, 11)) > 0.3).astype(np.float32)}
    assert og.validate(conv, data=longer, reference=model).passed


@pytest.mark.parametrize(("given", "other", "shared"), [
    ({"tokens": {1: "T"}}, "Axis 1 of 'mask' is 5 long", "T"),
    ({"tokens": {1: "T"}, "mask": {1: "S"}}, "Axis 1 of 'tokens' (named 'T') is 5 long", "S"),  # 'S' is tried first
])
def test_a_mask_left_out_of_the_tokens_length_is_named_with_the_option_that_shares_it(given: Any, other: str,
                                                                                      shared: str) -> None:
    # the mask was left at the sample's length (or given a length of its own): the refusal said "that axis does
    # not vary in forward()", though it does; it names the mask and the option to give (found by helper-171)
    rng = np.random.default_rng(1)
    sample = {"tokens": rng.integers(0, 20, size=(6, STEPS)), "mask": np.ones((6, STEPS), np.float32)}
    with pytest.raises(UnsupportedModelError) as caught:
        og.convert(MaskedMean().eval(), sample, opset=17, options={"dynamic_axes": given})
    said = str(caught.value)
    assert "does not vary" not in said
    assert other in said
    assert f"{{'tokens': {{1: '{shared}'}}, 'mask': {{1: '{shared}'}}}}" in said


@pytest.mark.parametrize("opset", OPSETS)
def test_a_loop_unrolled_to_the_samples_length_is_refused(opset: int) -> None:
    # without the check the file came back with axis 1 called dynamic, and answered for the first 5 steps only
    with pytest.raises(UnsupportedModelError, match=r"answers for 'T' = 5 \(the sample's\) but not for 6"):
        og.convert(Unrolled().eval(), _rows(STEPS), opset=opset, options={"dynamic_axes": {"input": {1: "T"}}})


def test_a_length_written_as_a_number_is_refused() -> None:
    with pytest.raises(UnsupportedModelError, match="does not run with 'T' one step longer"):
        og.convert(Flattened(), _rows(STEPS), opset=17, options={"dynamic_axes": {"input": {1: "T"}}})


@pytest.mark.parametrize(("axes", "says"), [
    ({"input": [0]}, "axis 0 is the batch"),
    ({"input": [3]}, "has no axis 3"),
    ({"tokens": [1]}, r"no input is called 'tokens'; the inputs are \['input'\]"),
    ({"input": {1: "N"}}, "a Python identifier other than 'N'"),
    ({"input": {1: "two words"}}, "a Python identifier"),
    ([1], "expected a dict from input name"),
    ({"input": {1: "T", 2: "T"}}, "one name is one length"),
])
def test_a_wrong_option_says_what_was_expected(axes: Any, says: str) -> None:
    with pytest.raises(UnsupportedModelError, match=says):
        og.convert(Tagger().eval(), _rows(STEPS), opset=17, options={"dynamic_axes": axes})


def test_a_sample_one_step_long_is_refused() -> None:
    with pytest.raises(UnsupportedModelError, match="at least 2 long"):
        og.convert(Tagger().eval(), _rows(1), opset=17, options={"dynamic_axes": {"input": [1]}})


def test_an_exported_program_keeps_its_own_axes() -> None:
    program = torch.export.export(Tagger().eval(), (torch.from_numpy(_rows(STEPS)),))
    with pytest.raises(UnsupportedModelError, match="cannot change an ExportedProgram"):
        og.convert(program, _rows(STEPS), opset=18, options={"dynamic_axes": {"input": [1]}})


def test_the_saved_reference_takes_other_lengths(tmp_path: Path) -> None:
    model = Tagger().eval()
    og.convert(model, _rows(STEPS), opset=17, options={"dynamic_axes": {"input": {1: "T"}}})
    path = registry.get("pytorch").save_native(model, tmp_path)
    data = torch.from_numpy(_rows(9))
    loaded = torch.export.load(path).module() if path.suffix == ".pt2" else torch.jit.load(str(path))
    with torch.no_grad():
        np.testing.assert_allclose(loaded(data).numpy(), model(data).numpy(), rtol=1e-5, atol=1e-6)


def test_the_cli_takes_the_option_as_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    from onnxgate.cli import main

    monkeypatch.chdir(tmp_path)
    model = Tagger().eval()
    torch.jit.save(torch.jit.trace(model, torch.from_numpy(_rows(STEPS))), "tagger.pt")
    np.save("sample.npy", _rows(STEPS))
    np.save("longer.npy", _rows(9))
    base = ["convert", "tagger.pt", "--sample", "sample.npy", "--trust-pickle"]
    assert main([*base, "--option", 'dynamic_axes={"input": {"1": "T"}}', "-o", "m.onnx"]) == 0
    assert "input: float32[N,T,3]" in capsys.readouterr().out
    assert main(["validate", "m.onnx", "--reference", "tagger.pt", "--trust-pickle", "--data", "longer.npy"]) == 0
    assert main([*base, "--option", 'dynamic_axes={"input": [0]}', "-o", "bad.onnx"]) == 2
    assert "axis 0 is the batch" in capsys.readouterr().err
    assert not Path("bad.onnx").exists()


class LongBranch(torch.nn.Module):
    """A branch on the length past the sample's: the tracer fixes the sample's side, one step either side agrees."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.head = torch.nn.Linear(FEATURES, 2)

    def forward(self, x: Any) -> Any:
        y = self.head(x)
        if x.shape[1] > 8:
            return y * 2
        return y


class FifthStep(torch.nn.Module):
    """Reads step 4: forward() itself does not run one step shorter than a 5-step sample."""

    def forward(self, x: Any) -> Any:
        return x[:, 4] * 3


class Valid(torch.nn.Module):
    """A Conv1d over the steps without padding: the output is T - 2 long, not T."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv1d(FEATURES, 2, 3)

    def forward(self, x: Any) -> Any:
        return self.conv(x.transpose(1, 2)).transpose(1, 2)


class TokenGRU(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.embed = torch.nn.Embedding(20, 4)
        self.rnn = torch.nn.GRU(4, 4, batch_first=True)
        self.head = torch.nn.Linear(4, 2)

    def forward(self, tokens: Any, mask: Any) -> Any:
        out, _ = self.rnn(self.embed(tokens))
        return self.head(out) * mask.unsqueeze(-1)


@pytest.mark.parametrize("opset", OPSETS)
def test_a_branch_on_the_length_past_the_next_step_is_refused(opset: int) -> None:
    # before: converted with axis 1 dynamic (5 +- 1 agree), and the file answered half of forward() from 9 steps
    with pytest.raises(UnsupportedModelError, match=r"answers for 'T' = 5 \(the sample's\) but not for 11"):
        og.convert(LongBranch().eval(), _rows(STEPS), opset=opset, options={"dynamic_axes": {"input": {1: "T"}}})


def test_a_model_that_does_not_run_one_step_shorter_converts() -> None:
    # before: IndexError (index 4 is out of bounds) out of convert, from forward() at 4 steps
    model = FifthStep().eval()
    conv = og.convert(model, _rows(STEPS), opset=17, options={"dynamic_axes": {"input": {1: "T"}}})
    assert _dims(conv.model.graph.input[0]) == ["N", "T", FEATURES]
    assert og.validate(conv, data=_rows(9), reference=model).passed


@pytest.mark.parametrize("opset", OPSETS)
def test_an_output_of_a_length_of_its_own_is_not_called_by_the_inputs_name(opset: int) -> None:
    # before: the output was declared [N, T, 2] and is [N, T - 2, 2]
    model = Valid().eval()
    conv = og.convert(model, _rows(STEPS), opset=opset, options={"dynamic_axes": {"input": {1: "T"}}})
    steps = _dims(conv.model.graph.output[0])[1]
    assert isinstance(steps, str) and steps != "T"
    assert og.validate(conv, data=_rows(9), reference=model).passed


def test_onnxruntime_does_not_warn_of_the_samples_length(capfd: pytest.CaptureFixture[str]) -> None:
    # before: the dynamo exporter's GRU left [N, 5, 4] on values inside the graph, and onnxruntime logged
    # "Expected shape from model of {-1,5,2} does not match actual shape of {8,9,2}" on every run
    rng = np.random.default_rng(0)

    def tokens(steps: int) -> dict[str, np.ndarray]:
        return {"tokens": rng.integers(0, 20, size=(8, steps)),
                "mask": (rng.random((8, steps)) > 0.2).astype(np.float32)}

    model = TokenGRU().eval()
    conv = og.convert(model, tokens(STEPS), opset=18,
                      options={"dynamic_axes": {"tokens": {1: "T"}, "mask": {1: "T"}}})
    session = ort.InferenceSession(conv.model.SerializeToString(), providers=["CPUExecutionProvider"])
    capfd.readouterr()
    data = tokens(9)
    got = session.run(None, data)[0]
    assert "does not match actual shape" not in capfd.readouterr().err
    with torch.no_grad():
        want = model(torch.from_numpy(data["tokens"]), torch.from_numpy(data["mask"])).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
