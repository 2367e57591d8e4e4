"""PyTorch ``nn.TransformerEncoder`` with a padding mask: the file answers as forward() does in eval mode under
``torch.no_grad()``, zeros at the padded positions where torch's nested-tensor fast path gives them and real
values where it does not; and sequences of any length (``dynamic_axes``) where the exporter can write them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

import onnxgate as og  # noqa: E402
from onnxgate.errors import UnsupportedModelError  # noqa: E402

STEPS = 7
WIDTH = 16


class Encoder(torch.nn.Module):
    """Token ids and their padding mask in, the encoder's states out (what it gives at padded steps shows)."""

    def __init__(self, *, heads: int = 2, float_mask: bool = False, norm: bool = False, encoder: Any = None,
                 **layer: Any) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.embed = torch.nn.Embedding(20, WIDTH)
        block = torch.nn.TransformerEncoderLayer(WIDTH, heads, dim_feedforward=32, batch_first=True, **layer)
        self.encoder = torch.nn.TransformerEncoder(block, 2, norm=torch.nn.LayerNorm(WIDTH) if norm else None,
                                                   **(encoder or {}))
        self.float_mask = float_mask
        self.eval()

    def forward(self, tokens: Any, mask: Any) -> Any:
        padding = mask.float() * -1e9 if self.float_mask else mask  # torch reads any value but 0 as padding
        return self.encoder(self.embed(tokens), src_key_padding_mask=padding)


def _tokens(steps: int = STEPS, *, front: bool = False, empty: bool = False, seed: int = 0) -> dict[str, Any]:
    """Six rows padded at the end (id 0), as a tokenizer pads them; ``front``: one row padded in front,
    ``empty``: one row all padding."""
    tokens = np.random.default_rng(seed).integers(1, 20, (6, steps)).astype(np.int64)
    tokens[1, steps - 3:] = 0
    tokens[3, 2:] = 0
    if front:
        tokens[4, :3] = 0
    if empty:
        tokens[5, :] = 0
    return {"tokens": tokens, "mask": tokens == 0}


def _forward(model: Any, feeds: dict[str, Any]) -> Any:
    with torch.no_grad():  # how a model is served, and how validate calls it
        return model(*(torch.from_numpy(feeds[n]) for n in ("tokens", "mask"))).numpy()


def _file(conv: Any, feeds: dict[str, Any]) -> Any:
    session = ort.InferenceSession(conv.model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, feeds)[0]


@pytest.fixture
def fast_path_off() -> Iterator[None]:
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        yield
    finally:
        torch.backends.mha.set_fastpath_enabled(True)


def test_a_padded_encoder_passes_validation() -> None:
    """The reported false alarm: parity failed on every padded row (up to 0.78 apart through a Linear head)."""
    model = Encoder()
    conv = og.convert(model, _tokens(), opset=17)
    report = og.validate(conv)
    assert report.passed, str(report)


# (model, data, whether forward() answers 0 at the padded positions)
CASES = {
    "fast path": (lambda: Encoder(), _tokens(), True),
    "encoder norm after the zeros": (lambda: Encoder(norm=True), _tokens(), True),
    "a row all padding": (lambda: Encoder(), _tokens(empty=True), True),
    "float mask": (lambda: Encoder(float_mask=True), _tokens(), True),
    "mask_check=False": (lambda: Encoder(encoder={"mask_check": False}), _tokens(), True),
    "gelu": (lambda: Encoder(activation="gelu"), _tokens(), True),
    # torch takes the slow path: real values at the padded positions
    "a row padded in front": (lambda: Encoder(), _tokens(front=True), False),
    "norm_first": (lambda: Encoder(norm_first=True), _tokens(), False),
    "enable_nested_tensor=False": (lambda: Encoder(encoder={"enable_nested_tensor": False}), _tokens(), False),
    "odd number of heads": (lambda: Encoder(heads=1), _tokens(), False),
}


@pytest.mark.filterwarnings("ignore:enable_nested_tensor is True:UserWarning")  # torch says why it takes no fast path
@pytest.mark.parametrize("case", list(CASES))
def test_the_file_answers_as_forward_at_padded_steps(case: str) -> None:
    build, feeds, zeros = CASES[case]
    model = build()
    want = _forward(model, feeds)
    padded = feeds["mask"] & ~feeds["mask"].all(1, keepdims=True) if case == "encoder norm after the zeros" else None
    if padded is not None:  # the encoder's LayerNorm of zeros: its bias, equal on every padded step
        assert np.ptp(want[padded], axis=0).max() == 0
    else:
        assert (want[feeds["mask"]] == 0).all() == zeros  # what torch does, so the case tests what it says
    got = _file(og.convert(model, feeds, opset=17), feeds)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_one_row_padded_in_front_turns_the_fast_path_off_for_its_batch() -> None:
    """torch checks the whole batch: one row that is not left-aligned gives every row real values, and the
    file tests the batch as torch does."""
    model = Encoder()
    conv = og.convert(model, _tokens(), opset=17)
    aligned, mixed = _tokens(seed=1), _tokens(front=True, seed=1)
    for feeds in (aligned, mixed):
        np.testing.assert_allclose(_file(conv, feeds), _forward(model, feeds), rtol=1e-4, atol=1e-5)
    assert (_file(conv, aligned)[aligned["mask"]] == 0).all()
    assert (_file(conv, mixed)[aligned["mask"]] != 0).any()  # the same end-padded rows, now with values


def test_with_the_fast_path_turned_off_the_file_keeps_real_values(fast_path_off: None) -> None:
    model = Encoder()
    feeds = _tokens()
    want = _forward(model, feeds)
    assert (want[feeds["mask"]] != 0).all()
    np.testing.assert_allclose(_file(og.convert(model, feeds, opset=17), feeds), want, rtol=1e-4, atol=1e-5)


AXES = {"dynamic_axes": {"tokens": {1: "T"}, "mask": {1: "T"}}}


def test_the_dynamo_exporter_scores_other_lengths_with_the_zeros() -> None:
    model = Encoder()
    conv = og.convert(model, _tokens(), opset=18, options=AXES)
    for steps in (4, 11):
        feeds = _tokens(steps, seed=steps)
        want = _forward(model, feeds)
        assert (want[feeds["mask"]] == 0).all()
        np.testing.assert_allclose(_file(conv, feeds), want, rtol=1e-4, atol=1e-5)


def test_below_opset_18_other_lengths_are_refused_with_the_opset_that_takes_them() -> None:
    with pytest.raises(UnsupportedModelError,
                       match=r"nn\.MultiheadAttention \('encoder\.layers\.0\.self_attn' and 1 more\).*opset 18"):
        og.convert(Encoder(), _tokens(), opset=17, options=AXES)
