"""The evaluator: a small MNIST classifier whose eyes judge the GANs' digits.

The metrics in :mod:`gans.evaluation.metrics` need two things from a digit image: which
class it looks like (``probabilities``) and a description of it in a space where distances
mean something (``features``, the 128 numbers of the penultimate layer).  This module
defines that network once against an engine handle, so it runs on minigrad and on PyTorch,
and loads the weights shipped beside it in ``evaluator.npz`` (trained by
``python -m gans.evaluation.train_evaluator``).

The weight file holds plain arrays only (``allow_pickle=False``): every ``state_dict``
entry under its PyTorch key, and ``__meta__``, a JSON string with the architecture, the
training recipe and the test accuracy.
"""
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..checkpoint import read_npz, write_npz
from ..engines import Engine
from ..progress import progress

WEIGHTS_PATH = Path(__file__).with_name("evaluator.npz")
FEATURES = 128
NUM_CLASSES = 10
# Images go through the network this many at a time: a batch of 1000 keeps the largest
# intermediate (the second convolution's im2col matrix, 144 × 1000·7·7 numbers) near 30 MB,
# and is large enough that BLAS, not Python, sets the speed.
CHUNK = 1000

ARCHITECTURE = ("Conv2d(1, 16, k5, s2, p2) ReLU [16×14×14] → Conv2d(16, 32, k3, s2, p1) ReLU [32×7×7] → "
                "Conv2d(32, 64, k3, s2, p1) ReLU [64×4×4] → Flatten(1024) → Linear(1024, 128) ReLU "
                "[features] → Linear(128, 10) [logits]")


def evaluator_network(e: Engine):
    """The evaluator's layers on engine ``e`` (not yet trained, not yet placed).

    Stride-2 convolutions do the downsampling that max-pooling would (minigrad has no
    pooling layer): 28 → 14 → 7 → 4.  ``model.features`` maps an N×1×28×28 batch in
    [0, 1] to N×128 features (after the ReLU); ``model.head`` maps those to 10 logits.
    """
    nn = e.nn
    features = nn.Sequential(
        nn.Conv2d(1, 16, kernel_size=5, stride=2, padding=2), nn.ReLU(),
        nn.Conv2d(16, 32, kernel_size=3, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(32, 64, kernel_size=3, stride=2, padding=1), nn.ReLU(),
        nn.Flatten(), nn.Linear(64 * 4 * 4, FEATURES), nn.ReLU())
    return nn.Sequential(OrderedDict(features=features, head=nn.Linear(FEATURES, NUM_CLASSES)))


def as_images(images, name="images"):
    """Digit images as float64 N×1×28×28 in [0, 1], from N×784, N×28×28 or N×1×28×28.

    uint8 arrays (MNIST as stored: 0..255) are divided by 255; floating-point arrays must
    already lie in [0, 1], as the GANs' Sigmoid outputs do.
    """
    array = np.asarray(images)
    if array.ndim not in (2, 3, 4) or array.shape[1:] not in ((784,), (28, 28), (1, 28, 28)):
        raise ValueError(f"{name}: expected N×784, N×28×28 or N×1×28×28 digit images, got shape "
                         f"{tuple(array.shape)}")
    if len(array) == 0:
        raise ValueError(f"{name}: no images (shape {tuple(array.shape)})")
    if array.dtype == np.uint8:
        return array.reshape(-1, 1, 28, 28).astype(np.float64) / 255.0
    if array.dtype.kind not in "fiu":
        raise ValueError(f"{name}: expected floating-point pixels in [0, 1] (or uint8 0..255), got dtype "
                         f"{array.dtype}")
    array = array.astype(np.float64).reshape(-1, 1, 28, 28)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name}: {int(np.sum(~np.isfinite(array)))} pixel values are NaN or infinite")
    low, high = float(array.min()), float(array.max())
    if low < 0 or high > 1:
        raise ValueError(f"{name}: pixel values must lie in [0, 1], got the range [{low:.4g}, {high:.4g}]")
    return array


class Evaluator:
    """The trained evaluator on one engine; every output is a float64 NumPy array.

    ``Evaluator.load(engine)`` reads the shipped weights.  ``meta`` holds what the weight
    file says about itself (architecture, training recipe, test accuracy).  The network
    runs in float32 by default: 10 000 digits take about 1.5 s on PyTorch and 2 s on minigrad
    on two CPU cores, 1.5 times less than float64, and the metrics (computed in float64
    from its outputs) change by far less than their sampling noise.  ``dtype="float64"``
    makes the two engines agree to rounding (the tests compare them that way).
    """

    def __init__(self, engine: Engine, model, meta):
        self.engine, self.model, self.meta = engine, model, meta

    @classmethod
    def load(cls, engine="torch", device="cpu", dtype="float32", path=WEIGHTS_PATH):
        """The evaluator with the weights in ``path`` on an engine (a name or an :class:`Engine`)."""
        e = engine if isinstance(engine, Engine) else Engine(engine, device, dtype)
        meta, state = read_weights(path)
        model = e.place(evaluator_network(e))
        model.load_state_dict({k: e.tensor(v) for k, v in state.items()})
        model.eval()
        return cls(e, model, meta)

    @property
    def test_accuracy(self):
        return self.meta.get("test_accuracy")

    def features_and_logits(self, images):
        """(N×128 penultimate features, N×10 logits) for digit images (see :func:`as_images`)."""
        x = as_images(images)
        features, logits = [], []
        with self.engine.no_grad():
            for start in progress(range(0, len(x), CHUNK), "evaluator", unit="chunk"):
                f = self.model.features(self.engine.tensor(x[start:start + CHUNK]))
                features.append(self.engine.numpy(f).astype(np.float64))
                logits.append(self.engine.numpy(self.model.head(f)).astype(np.float64))
        return np.concatenate(features), np.concatenate(logits)

    def features(self, images):
        return self.features_and_logits(images)[0]

    def logits(self, images):
        return self.features_and_logits(images)[1]

    def probabilities(self, images):
        """p(y|x): the softmax of the logits, N×10, each row summing to 1."""
        return softmax(self.logits(images))

    def predict(self, images):
        """The most probable digit for each image."""
        return np.argmax(self.logits(images), axis=1)


@lru_cache(maxsize=4)
def load_evaluator(engine="torch", device="cpu", dtype="float32"):
    """The shipped evaluator on an engine, loaded once per process."""
    return Evaluator.load(engine, device, dtype)


def softmax(logits):
    """Row-wise softmax in float64, shifted by the row maximum so exp never overflows."""
    z = np.asarray(logits, dtype=np.float64)
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def read_weights(path=WEIGHTS_PATH):
    """(meta, state) from an evaluator weight file: no pickle, plain arrays and one JSON string."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"no evaluator weights at {path}; train them with "
                                "'python -m gans.evaluation.train_evaluator --data MNIST_FOLDER'")
    return read_npz(path, "evaluator weight file")


def write_weights(path, state, meta):
    """Write a ``state_dict`` (as NumPy arrays, float32 to keep the file small) and ``meta``."""
    write_npz(path, {k: np.asarray(v, dtype=np.float32) for k, v in state.items()}, meta, compress=True)
