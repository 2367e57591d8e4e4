"""TensorFlow reference models: ``tf.Module`` networks trained with ``GradientTape``.

Each ``__call__`` is a ``tf.function`` with an input signature, the form tf2onnx converts and
``tf.saved_model.save`` serves. Training is seeded and runs in about a second.
"""

from __future__ import annotations

from typing import Any

from onnxgate.frameworks import quiet_tensorflow
from onnxgate.zoo._base import ZooEntry

__all__ = ["ENTRIES"]

SEED = 0
#: tf2onnx 1.17 writes opsets 9 to 18; these are the ones tested for every entry.
_OPSETS = (9, 11, 13, 15, 17, 18)


def _tf() -> Any:
    quiet_tensorflow()
    import tensorflow as tf

    tf.random.set_seed(SEED)
    return tf


def _train(tf: Any, model: Any, loss_fn: Any, X: Any, y: Any, *, steps: int, lr: float, batch: int) -> None:
    """Adam on minibatches, written out so the TensorFlow zoo does not depend on Keras."""
    import numpy as np

    variables = model.trainable_variables
    m = [tf.Variable(tf.zeros_like(v)) for v in variables]
    s = [tf.Variable(tf.zeros_like(v)) for v in variables]
    b1, b2, eps = 0.9, 0.999, 1e-7

    # One graph per step (not eager op by op): 300 steps take well under a second.
    @tf.function
    def step(xb: Any, yb: Any, t: Any) -> None:
        with tf.GradientTape() as tape:
            loss = loss_fn(model.forward(xb), yb)
        grads = tape.gradient(loss, variables)
        for v, gi, mi, si in zip(variables, grads, m, s):
            mi.assign(b1 * mi + (1 - b1) * gi)
            si.assign(b2 * si + (1 - b2) * gi * gi)
            v.assign_sub(lr * (mi / (1 - b1**t)) / (tf.sqrt(si / (1 - b2**t)) + eps))

    rng = np.random.default_rng(SEED)
    for t in range(1, steps + 1):
        idx = rng.integers(0, len(X), size=batch)
        step(tf.constant(X[idx]), tf.constant(y[idx]), tf.constant(float(t)))


def _diabetes_mlp() -> tuple[Any, Any, Any]:
    import numpy as np
    from sklearn.datasets import load_diabetes

    tf = _tf()
    X, y = load_diabetes(return_X_y=True)
    X = ((X - X.mean(axis=0)) / X.std(axis=0)).astype(np.float32)
    y = ((y - y.mean()) / y.std()).astype(np.float32).reshape(-1, 1)
    init = tf.random.stateless_normal
    Module: Any = tf.Module

    class DiabetesMLP(Module):
        """10 -> 32 -> 16 -> 1 ReLU regressor on standardized diabetes features (standardized target)."""

        def __init__(self) -> None:
            super().__init__(name="diabetes_mlp")
            self.w1 = tf.Variable(init([10, 32], seed=[SEED, 1]) * 0.3)
            self.b1 = tf.Variable(tf.zeros([32]))
            self.w2 = tf.Variable(init([32, 16], seed=[SEED, 2]) * 0.25)
            self.b2 = tf.Variable(tf.zeros([16]))
            self.w3 = tf.Variable(init([16, 1], seed=[SEED, 3]) * 0.25)
            self.b3 = tf.Variable(tf.zeros([1]))

        def forward(self, x: Any) -> Any:
            h = tf.nn.relu(tf.matmul(x, self.w1) + self.b1)
            h = tf.nn.relu(tf.matmul(h, self.w2) + self.b2)
            return tf.matmul(h, self.w3) + self.b3

        @tf.function(input_signature=[tf.TensorSpec([None, 10], tf.float32, name="x")])
        def __call__(self, x: Any) -> Any:
            return self.forward(x)

    model = DiabetesMLP()
    _train(tf, model, lambda p, t: tf.reduce_mean(tf.square(p - t)), X, y, steps=300, lr=1e-2, batch=64)
    return model, X, y.reshape(-1)


def _digits_convnet() -> tuple[Any, Any, Any]:
    import numpy as np
    from sklearn.datasets import load_digits

    tf = _tf()
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32).reshape(-1, 8, 8, 1)
    y = y.astype(np.int64)
    init = tf.random.stateless_normal
    Module: Any = tf.Module

    class DigitsConvNet(Module):
        """Conv 3x3x8 -> max-pool -> Conv 3x3x16 -> global average -> dense 10, softmax probabilities."""

        def __init__(self) -> None:
            super().__init__(name="digits_convnet")
            self.k1 = tf.Variable(init([3, 3, 1, 8], seed=[SEED, 1]) * 0.4)
            self.c1 = tf.Variable(tf.zeros([8]))
            self.k2 = tf.Variable(init([3, 3, 8, 16], seed=[SEED, 2]) * 0.15)
            self.c2 = tf.Variable(tf.zeros([16]))
            self.w = tf.Variable(init([16, 10], seed=[SEED, 3]) * 0.25)
            self.b = tf.Variable(tf.zeros([10]))

        def logits(self, x: Any) -> Any:
            h = tf.nn.relu(tf.nn.conv2d(x, self.k1, strides=1, padding="SAME") + self.c1)
            h = tf.nn.max_pool2d(h, ksize=2, strides=2, padding="VALID")
            h = tf.nn.relu(tf.nn.conv2d(h, self.k2, strides=1, padding="SAME") + self.c2)
            h = tf.reduce_mean(h, axis=[1, 2])
            return tf.matmul(h, self.w) + self.b

        forward = logits

        @tf.function(input_signature=[tf.TensorSpec([None, 8, 8, 1], tf.float32, name="image")])
        def __call__(self, image: Any) -> Any:
            return tf.nn.softmax(self.logits(image))

    model = DigitsConvNet()

    def loss(logits: Any, labels: Any) -> Any:
        return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))

    _train(tf, model, loss, X, y, steps=300, lr=2e-2, batch=64)
    return model, X, y


ENTRIES: tuple[ZooEntry, ...] = (
    ZooEntry("tensorflow-diabetes-mlp", "tensorflow", "regression", _diabetes_mlp, atol=1e-5, rtol=1e-4,
             description="tf.Module MLP regressor (10-32-16-1) trained with GradientTape on standardized "
             "diabetes; __call__ takes x [N,10] float32", opsets=_OPSETS),
    ZooEntry("tensorflow-digits-convnet", "tensorflow", "classification", _digits_convnet, atol=1e-5, rtol=1e-4,
             description="tf.Module ConvNet on 8x8 digits (NHWC [N,8,8,1] float32), softmax probabilities",
             opsets=_OPSETS),
)
