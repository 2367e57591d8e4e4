"""Keras 3 reference models: a Sequential regressor, a two-input functional classifier, a small ConvNet.

Seeded with ``keras.utils.set_random_seed`` and trained for a few epochs, about a second each.
``X`` is always one float32 array. For ``keras-wine-two-input`` it has the 13 wine features, and
its columns are split over the model's inputs by their widths: columns 0-5 feed ``acidity_body``,
6-12 feed ``colour_phenols``. :func:`onnxgate._data.as_feeds` and the Keras converter both read
such an array that way, so ``X[:k]`` slices and saves like any other sample.
"""

from __future__ import annotations

from typing import Any

from onnxgate.frameworks import quiet_tensorflow
from onnxgate.zoo._base import ZooEntry

__all__ = ["ENTRIES"]

SEED = 0
#: tf2onnx 1.17 (the TensorFlow backend's path) writes opsets 9 to 18.
_OPSETS = (9, 11, 13, 15, 17, 18)


def _keras() -> Any:
    quiet_tensorflow()
    import keras

    keras.utils.set_random_seed(SEED)
    return keras


def _standardize(X: Any) -> Any:
    import numpy as np

    return ((X - X.mean(axis=0)) / X.std(axis=0)).astype(np.float32)


def _diabetes_dense() -> tuple[Any, Any, Any]:
    import numpy as np
    from sklearn.datasets import load_diabetes

    keras = _keras()
    X, y = load_diabetes(return_X_y=True)
    X = _standardize(X)
    y = ((y - y.mean()) / y.std()).astype(np.float32)
    model = keras.Sequential(
        [
            keras.Input((10,), name="features"),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(1),
        ],
        name="diabetes_dense",
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    model.fit(X, y, epochs=20, batch_size=64, verbose=0, shuffle=True)
    return model, X, y


def _wine_two_input() -> tuple[Any, Any, Any]:
    import numpy as np
    from sklearn.datasets import load_wine

    keras = _keras()
    X, y = load_wine(return_X_y=True)
    X = _standardize(X)
    first = keras.Input((6,), name="acidity_body")
    second = keras.Input((7,), name="colour_phenols")
    h1 = keras.layers.Dense(8, activation="relu")(first)
    h2 = keras.layers.Dense(8, activation="relu")(second)
    h = keras.layers.Concatenate()([h1, h2])
    out = keras.layers.Dense(3, activation="softmax", name="probabilities")(h)
    model = keras.Model([first, second], out, name="wine_two_input")
    model.compile(optimizer=keras.optimizers.Adam(2e-2), loss="sparse_categorical_crossentropy")
    model.fit([X[:, :6], X[:, 6:]], y.astype(np.int64), epochs=30, batch_size=32, verbose=0, shuffle=True)
    return model, X, y


def _digits_conv() -> tuple[Any, Any, Any]:
    import numpy as np
    from sklearn.datasets import load_digits

    keras = _keras()
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32).reshape(-1, 8, 8, 1)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1), name="image"),
            keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(10, activation="softmax"),
        ],
        name="digits_conv",
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    model.fit(X, y.astype(np.int64), epochs=8, batch_size=64, verbose=0, shuffle=True)
    return model, X, y


ENTRIES: tuple[ZooEntry, ...] = (
    ZooEntry("keras-diabetes-dense", "keras", "regression", _diabetes_dense, atol=1e-5, rtol=1e-4,
             description="Keras Sequential dense regressor (10-32-16-1) on standardized diabetes", opsets=_OPSETS),
    ZooEntry("keras-wine-two-input", "keras", "classification", _wine_two_input, atol=1e-5, rtol=1e-4,
             description="Keras functional model with two inputs (wine columns 0-5 and 6-12), softmax over 3 "
             "classes; X is one [N,13] array split over the inputs by width", opsets=_OPSETS,
             tags=("multi-input",)),
    ZooEntry("keras-digits-conv", "keras", "classification", _digits_conv, atol=1e-5, rtol=1e-4,
             description="Keras Sequential Conv2D classifier on 8x8 digits (NHWC [N,8,8,1])", opsets=_OPSETS),
)
