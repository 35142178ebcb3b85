"""Scoring generated digits against real ones, with a real-data baseline beside every number.

A metric alone is hard to read: is an FID of 3 good?  So every score is computed twice,
the same way: once for the images being judged, once for the same number of real MNIST
*training* digits (the "real baseline").  Both are compared with the same real *test*
digits (the reference).  The baseline is the floor a perfect generator would reach.

    reference   MNIST test split: all of it for FID; a fixed random subset of N for
                precision/recall, because the k-NN radii depend on set size and the
                method compares sets of equal size
    baseline    N MNIST training digits (a fixed random subset), scored exactly like samples
"""
import importlib.util
from functools import lru_cache

import numpy as np

from ..data import DataError, find_full_mnist, load_mnist, read_npy
from . import metrics
from .evaluator import FEATURES, as_images, load_evaluator, softmax

METRIC_KEYS = ("mode_coverage", "class_histogram", "kl_uniform", "inception_score", "fid", "precision",
               "recall", "label_accuracy")
MNIST_GANS = ("mnist-gan-first", "mnist-gan", "mnist-cgan")
# Fixed seeds: the same N reference and baseline digits (and the same generator inputs)
# every time, so numbers from different runs and engines are comparable.
REFERENCE_SEED, BASELINE_SEED, SAMPLES_SEED = 1, 2, 3
K = 3  # precision/recall neighbourhood size (Kynkäänniemi et al. use k = 3)
MIN_SAMPLES = K + 1  # each sample needs K neighbours besides itself


class RealDigits:
    """The real MNIST digits (test and train splits, as ``MnistData``) one evaluator compares
    against, with the test digits' features computed once."""

    def __init__(self, evaluator, test, train):
        self.evaluator, self.test, self.train = evaluator, test, train
        self.source = test.source
        self.test_features = evaluator.features(test.images)
        self._baselines, self._references = {}, {}

    @classmethod
    def load(cls, evaluator, path=None):
        """``path``: where MNIST is (a folder, as for ``load_mnist``); default: the full MNIST
        files when this machine has them (``find_full_mnist``), else the cache or the subset
        shipped in the package."""
        path = path or find_full_mnist()
        return cls(evaluator, load_mnist("test", path), load_mnist("train", path))

    def reference_for_precision_recall(self, n):
        """(features, k-NN radii) of a fixed random subset of ``min(n, test size)`` test digits."""
        n = min(n, len(self.test))
        if n not in self._references:
            order = np.random.default_rng(REFERENCE_SEED).permutation(len(self.test))
            features = self.test_features[order[:n]]
            self._references[n] = features, metrics.knn_radii(features, K)
        return self._references[n]

    def baseline(self, n, conditional=False):
        """The metrics of ``min(n, train size)`` real training digits, scored like samples."""
        key = (min(n, len(self.train)), conditional)
        if key not in self._baselines:
            order = np.random.default_rng(BASELINE_SEED).permutation(len(self.train))[:key[0]]
            labels = self.train.labels[order] if conditional else None
            scores = score_images(self.train.images[order], self, labels, baseline=False)
            scores["data"] = f"{key[0]} MNIST training digits ({self.train.source})"
            self._baselines[key] = scores
        return self._baselines[key]


@lru_cache(maxsize=4)
def real_digits(engine="torch", path=None):
    """:class:`RealDigits` for the shipped evaluator on ``engine``, built once per process."""
    return RealDigits.load(load_evaluator(engine), path)


def score_images(images, real: RealDigits, requested_labels=None, baseline=True):
    """Every metric for N digit images (N×784, N×28×28 or N×1×28×28, in [0, 1]).

    ``requested_labels``: for a conditional GAN, the digit each image was generated for
    (adds ``label_accuracy``).  ``baseline``: add ``real_baseline``, the same metrics for N
    real training digits.  FID needs N ≥ 2 and precision/recall N ≥ 4; the result says N,
    and FID is trustworthy only for N well above the 128 feature dimensions.
    """
    features, logits = real.evaluator.features_and_logits(images)
    n = len(features)
    check_count(n)
    predicted = np.argmax(logits, axis=1)
    reference, radii = real.reference_for_precision_recall(n)
    precision, recall = metrics.precision_recall(reference, features, k=K, real_radii=radii)
    result = {
        "n": n,
        "mode_coverage": metrics.mode_coverage(predicted),
        "class_histogram": metrics.class_histogram(predicted).tolist(),
        "kl_uniform": metrics.kl_uniform(predicted),
        "inception_score": metrics.inception_score(softmax(logits)),
        "fid": metrics.fid(features, real.test_features),
        "precision": precision,
        "recall": recall,
    }
    if requested_labels is not None:
        result["label_accuracy"] = metrics.label_accuracy(predicted, np.asarray(requested_labels))
    if baseline:
        result["reference"] = {"data": f"MNIST test split ({real.source})",
                               "fid_images": len(real.test_features), "precision_recall_images": len(reference),
                               "k": K, "feature_dim": FEATURES}
        if n <= 2 * FEATURES:
            result["note"] = (f"N = {n} is not well above the {FEATURES} feature dimensions: FID is biased "
                              "upwards; read it only against the baseline at the same N")
        result["real_baseline"] = real.baseline(n, conditional=requested_labels is not None)
        result["evaluator"] = {"engine": real.evaluator.engine.name,
                               "test_accuracy": real.evaluator.test_accuracy}
    return result


def generate_samples(experiment, m, e, n, seed=SAMPLES_SEED):
    """N images from a trained MNIST GAN as an N×784 array, drawn in one batch.

    The seeds come from the experiment's own seed distribution.  A conditional GAN is
    asked for each digit in turn (0, 1, …, 9, 0, …), so requested labels are balanced;
    they are returned as the second value (None otherwise).
    """
    rng = np.random.default_rng(seed)
    seeds = np.stack([experiment.seed(rng) for _ in range(n)])
    requested = np.arange(n) % 10 if experiment.labels else None
    with e.no_grad():
        labels = (e.tensor(np.eye(10)[requested]),) if experiment.labels else ()
        images = m.G(e.tensor(seeds), *labels)  # one forward pass for the whole batch
    return e.numpy(images).reshape(n, 784).astype(np.float64), requested


def evaluate_gan(experiment, m, e, n=10000, data=None):
    """Sample ``n`` digits from a trained MNIST GAN and score them (see :func:`score_images`)."""
    if experiment.name not in MNIST_GANS:
        raise ValueError(f"only the MNIST GANs ({', '.join(MNIST_GANS)}) are scored from samples (a classifier "
                         f"by its test accuracy), not {experiment.name}")
    check_count(n)  # before sampling
    images, requested = generate_samples(experiment, m, e, n)
    return score_images(images, real_digits(e.name, data), requested)


def check_count(n):
    """Precision/recall use each image's K nearest neighbours: N must exceed K."""
    if n < MIN_SAMPLES:
        raise ValueError(f"scoring needs at least {MIN_SAMPLES} images (precision/recall use each image's "
                         f"{K} nearest neighbours), got {n}")


def format_report(result, title):
    """The scores as a small table, each beside its real-data baseline."""
    base = result.get("real_baseline", {})
    lines = [title, f"  reference: {result['reference']['data']}; "
                    f"baseline: {base.get('data', 'none')}", ""]
    lines.append(f"  {'metric':<16}{'scored':>12}{'real baseline':>16}")
    for key in METRIC_KEYS:
        if key not in result or key == "class_histogram":
            continue
        value, floor = result[key], base.get(key)
        shown = f"{value:.4f}" if isinstance(value, float) else str(value)
        floor_shown = "" if floor is None else f"{floor:.4f}" if isinstance(floor, float) else str(floor)
        lines.append(f"  {key:<16}{shown:>12}{floor_shown:>16}")
    lines.append(f"  {'class_histogram':<16}{' '.join(str(c) for c in result['class_histogram'])}")
    if base:
        lines.append(f"  {'(real)':<16}{' '.join(str(c) for c in base['class_histogram'])}")
    if "note" in result:
        lines.append(f"  note: {result['note']}")
    return "\n".join(lines)


def load_images(path):
    """Digit images from a ``.npy`` file, as :func:`as_images` gives them (float64 N×1×28×28 in
    [0, 1]); a file that is not such an array is a :class:`DataError` naming it."""
    array = read_npy(path)
    try:
        return as_images(array, name=str(path))
    except ValueError as err:  # as_images checks arrays from anywhere; here they came from a file
        raise DataError(str(err)) from None


def default_engine():
    """PyTorch when installed (a little faster), else minigrad: both give the same scores."""
    return "torch" if importlib.util.find_spec("torch") is not None else "minigrad"
