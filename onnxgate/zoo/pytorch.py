"""PyTorch reference models, trained in about a second on datasets that ship with scikit-learn.

Each builder seeds torch inside ``torch.random.fork_rng`` and trains on one thread, so the weights
are the same on every run and the caller's random state and thread count are left as they were.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from onnxgate.zoo._base import ZooEntry

__all__ = ["ENTRIES"]

SEED = 0
#: Opsets each entry is tested at: 9-17 through the TorchScript exporter, 18 and 21 through dynamo.
OPSETS = (9, 11, 13, 15, 17, 18, 21)


@contextlib.contextmanager
def _deterministic() -> Iterator[None]:
    import torch

    threads = torch.get_num_threads()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(threads)


def _train(
    model: Any, X: Any, y: Any, loss_fn: Callable[[Any, Any], Any], *, epochs: int, batch: int, lr: float
) -> None:
    import torch

    xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(xt))
        for start in range(0, len(xt), batch):
            idx = order[start : start + batch]
            optimizer.zero_grad()
            loss = loss_fn(model(xt[idx]), yt[idx])
            loss.backward()
            optimizer.step()
    model.eval()


def _diabetes_mlp() -> tuple[Any, Any, Any]:
    import numpy as np
    import torch
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    X = ((X - X.mean(axis=0)) / X.std(axis=0)).astype(np.float32)
    y = y.astype(np.float32)

    class DiabetesMLP(torch.nn.Module):
        """10 standardized features -> disease progression; the target's scale lives in buffers."""

        def __init__(self) -> None:
            super().__init__()
            self.net = torch.nn.Sequential(
                torch.nn.Linear(10, 32),
                torch.nn.ReLU(),
                torch.nn.Linear(32, 16),
                torch.nn.ReLU(),
                torch.nn.Linear(16, 1),
            )
            self.register_buffer("y_mean", torch.tensor(float(y.mean())))
            self.register_buffer("y_std", torch.tensor(float(y.std())))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.net(x) * self.y_std + self.y_mean

    with _deterministic():
        model = DiabetesMLP()
        scale = float(y.std())
        _train(
            model,
            X,
            y.reshape(-1, 1),
            lambda pred, target: torch.nn.functional.mse_loss(pred / scale, target / scale),
            epochs=60,
            batch=64,
            lr=1e-2,
        )
    return model, X, y


def _digits() -> tuple[Any, Any]:
    import numpy as np
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y.astype(np.int64)


def _digits_cnn() -> tuple[Any, Any, Any]:
    import torch

    X, y = _digits()
    X = X.reshape(-1, 1, 8, 8)

    class DigitsCNN(torch.nn.Module):
        """[N,1,8,8] images -> 10 class logits."""

        def __init__(self) -> None:
            super().__init__()
            self.features = torch.nn.Sequential(
                torch.nn.Conv2d(1, 8, 3, padding=1),
                torch.nn.ReLU(),
                torch.nn.MaxPool2d(2),
                torch.nn.Conv2d(8, 16, 3, padding=1),
                torch.nn.ReLU(),
            )
            self.head = torch.nn.Linear(16 * 4 * 4, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(torch.flatten(self.features(x), 1))

    with _deterministic():
        model = DigitsCNN()
        _train(model, X, y, torch.nn.functional.cross_entropy, epochs=6, batch=64, lr=1e-2)
    return model, X, y


def _digits_gru() -> tuple[Any, Any, Any]:
    import torch

    X, y = _digits()
    X = X.reshape(-1, 8, 8)

    class DigitsGRU(torch.nn.Module):
        """The 8 rows of a digit as a sequence [N,8,8] -> 10 class logits from the last hidden state."""

        def __init__(self) -> None:
            super().__init__()
            self.gru = torch.nn.GRU(8, 32, batch_first=True)
            self.head = torch.nn.Linear(32, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            _, hidden = self.gru(x)
            return self.head(hidden[-1])

    with _deterministic():
        model = DigitsGRU()
        _train(model, X, y, torch.nn.functional.cross_entropy, epochs=8, batch=64, lr=1e-2)
    return model, X, y


ENTRIES: tuple[ZooEntry, ...] = (
    ZooEntry(
        name="pytorch-diabetes-mlp",
        framework="pytorch",
        task="regression",
        builder=_diabetes_mlp,
        atol=1e-3,
        rtol=1e-5,
        description="MLP 10-32-16-1 on standardized diabetes features; predicts the raw target (25-346)",
        opsets=OPSETS,
    ),
    ZooEntry(
        name="pytorch-digits-cnn",
        framework="pytorch",
        task="classification",
        builder=_digits_cnn,
        atol=1e-4,
        rtol=1e-4,
        description="two-conv CNN on 8x8 digits, input [N,1,8,8], 10 logits",
        opsets=OPSETS,
        tags=("image",),
    ),
    ZooEntry(
        name="pytorch-digits-gru",
        framework="pytorch",
        task="classification",
        builder=_digits_gru,
        atol=1e-4,
        rtol=1e-4,
        description="GRU(32) over the 8 rows of a digit image, input [N,8,8], 10 logits",
        opsets=OPSETS,
        tags=("recurrent",),
    ),
)
