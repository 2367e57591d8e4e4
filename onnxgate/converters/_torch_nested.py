"""``nn.TransformerEncoder``'s nested-tensor fast path, written into the exported graph.

In eval mode, under ``torch.no_grad()`` (how a model is served, and how ``validate`` calls forward()), an
encoder built with ``enable_nested_tensor=True`` (torch's default) packs its input into a nested tensor of
the unpadded steps, runs its layers on that and pads the result back with zeros: forward() answers 0 at
every position ``src_key_padding_mask`` marks, before the encoder's ``norm``. Neither exporter takes that
path (the TorchScript exporter traces with gradients on, torch.export skips the mask check), so the file
computed real values there, and validate failed parity on every padded row of a common model (up to 0.78
apart on a 2-layer encoder; helper-176).

torch takes the path only where all of these hold (``TransformerEncoder.forward``, torch 2.13), and the
exported graph zeroes the padded positions in exactly those cases:

* the encoder's ``use_nested_tensor`` is True: ``enable_nested_tensor`` and a layer the fast path runs
  (``batch_first=True``, ``norm_first=False``, ReLU or GELU, an even number of heads...), decided when the
  encoder is built;
* ``torch.backends.mha.get_fastpath_enabled()`` at conversion;
* a 3-D input, a ``src_key_padding_mask`` and no attention ``mask``;
* a batch whose every row is left-aligned (its real steps first, then its padding), unless the encoder
  was built with ``mask_check=False``. This depends on the whole batch: one row padded in front makes torch
  compute real values on every row, and the graph tests the batch as torch does.

A bool mask marks padding with True, a float one with any value but 0, as torch reads it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from onnxgate.converters._torch_common import torch_module

__all__ = ["fast_path_zeros"]


@contextlib.contextmanager
def fast_path_zeros(model: Any) -> Iterator[None]:
    """Meanwhile, each of ``model``'s ``TransformerEncoder`` that would take the nested-tensor fast path
    computes its padded positions as that path does (0), in operations both exporters write."""
    torch = torch_module()
    if not isinstance(model, torch.nn.Module) or not torch.backends.mha.get_fastpath_enabled():
        yield
        return
    # an encoder whose forward the user replaced on the instance answers as that forward does: left alone
    encoders = [m for m in model.modules() if isinstance(m, torch.nn.TransformerEncoder) and "forward" not in vars(m)
                and getattr(m, "use_nested_tensor", False) and m.layers[0].self_attn.batch_first]
    for encoder in encoders:
        encoder.forward = _padded_with_zeros(encoder)  # an instance attribute: the class is left alone
    try:
        yield
    finally:
        for encoder in encoders:
            del encoder.forward


def _padded_with_zeros(encoder: Any) -> Any:
    torch = torch_module()
    slow = type(encoder).forward.__get__(encoder)

    def forward(src: Any, mask: Any = None, src_key_padding_mask: Any = None, is_causal: Any = None) -> Any:
        if (src_key_padding_mask is None or mask is not None or src.dim() != 3 or encoder.layers[0].training
                or torch.is_autocast_enabled()):
            return slow(src, mask, src_key_padding_mask, is_causal)
        # torch's loop without the packing: each layer masks the padded keys itself
        output = src
        for layer in encoder.layers:
            output = layer(output, src_key_padding_mask=src_key_padding_mask, is_causal=is_causal is True)
        padded = src_key_padding_mask if src_key_padding_mask.dtype == torch.bool else src_key_padding_mask != 0
        if getattr(encoder, "mask_check", True):
            real = (~padded).to(torch.int32)
            # torch._nested_tensor_from_mask_left_aligned: every row's real steps come first
            padded = padded & (real[:, 1:] <= real[:, :-1]).all()
        output = output.masked_fill(padded.unsqueeze(-1), 0.0)
        return encoder.norm(output) if encoder.norm is not None else output

    return forward
