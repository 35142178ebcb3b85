"""Numbers for what the book only shows: how many digits a GAN draws, and how well.

Every function takes plain NumPy arrays (class predictions, class probabilities or
evaluator features) and computes in float64; none knows about engines.  The evaluator
(:mod:`gans.evaluation.evaluator`) supplies the arrays.

=====================  =====================================================================
``class_histogram``    how many samples the evaluator puts in each digit class
``mode_coverage``      classes receiving at least 1% of the samples (10 = every digit drawn)
``kl_uniform``         KL(p̂ ‖ uniform) = log 10 − H(p̂): 0 balanced, log 10 ≈ 2.303 one class
``inception_score``    exp(E_x KL(p(y|x) ‖ p(y))): 1 (confused or one class) … 10 (all, sharp)
``fid``                Fréchet distance between Gaussians fitted to two feature sets
``precision_recall``   k-NN manifold precision and recall (Kynkäänniemi et al., 2019)
``label_accuracy``     how often the evaluator sees the digit a conditional GAN was asked for
=====================  =====================================================================
"""
import numpy as np

NUM_CLASSES = 10


def _check_samples(name, array, at_least, ndim):
    array = np.asarray(array)
    if array.ndim != ndim:
        what = "a 1-D array of class indices" if ndim == 1 else "an N×D array (one row per sample)"
        raise ValueError(f"{name}: expected {what}, got shape {tuple(array.shape)}")
    if len(array) < at_least:
        raise ValueError(f"{name}: needs at least {at_least} samples, got {len(array)}")
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        raise ValueError(f"{name}: the input holds NaN or infinite values")
    return array


# --- the class histogram and what it says about mode collapse ------------------------------

def class_histogram(predicted, num_classes=NUM_CLASSES):
    """Counts of each predicted class: ``histogram[c]`` = #{i : predicted[i] = c}."""
    predicted = _check_samples("class_histogram", predicted, 1, 1)
    if predicted.dtype.kind not in "iu":
        raise ValueError(f"class_histogram: expected integer class indices, got dtype {predicted.dtype}")
    if predicted.min() < 0 or predicted.max() >= num_classes:
        raise ValueError(f"class_histogram: class indices must lie in 0..{num_classes - 1}, got "
                         f"{predicted.min()}..{predicted.max()}")
    return np.bincount(predicted, minlength=num_classes).astype(np.int64)


def mode_coverage(predicted, num_classes=NUM_CLASSES, threshold=0.01):
    """Number of classes that receive at least ``threshold`` (1%) of the N samples.

    A GAN whose samples the evaluator reads as all ten digits scores 10; a collapsed one
    that draws a single digit scores 1.  The 1% floor keeps a handful of stray samples
    from counting as a mode.
    """
    counts = class_histogram(predicted, num_classes)
    return int(np.sum(counts >= threshold * counts.sum()))


def kl_uniform(predicted, num_classes=NUM_CLASSES):
    """KL(p̂ ‖ uniform) = Σ_c p̂_c log(p̂_c · C) = log C − H(p̂), in nats.

    p̂ is the class histogram divided by N (0 · log 0 = 0).  0 when every class gets N/C
    samples; log C (log 10 ≈ 2.303) when all samples fall in one class.
    """
    counts = class_histogram(predicted, num_classes)
    p = counts / counts.sum()
    nonzero = p[p > 0]
    entropy = -np.sum(nonzero * np.log(nonzero))
    return float(max(np.log(num_classes) - entropy, 0.0))  # max: −1e-16 rounding is not a KL


def label_accuracy(predicted, requested):
    """Fraction of samples the evaluator reads as the digit they were generated for."""
    predicted = _check_samples("label_accuracy", predicted, 1, 1)
    requested = np.asarray(requested)
    if requested.shape != predicted.shape:
        raise ValueError(f"label_accuracy: {len(predicted)} predictions but requested labels of shape "
                         f"{tuple(requested.shape)}")
    return float(np.mean(predicted == requested))


# --- Inception score ----------------------------------------------------------------------

def inception_score(probabilities):
    """IS = exp(E_x KL(p(y|x) ‖ p(y))), with p(y) = E_x p(y|x) the marginal over the samples.

    Equivalently exp(H(p(y)) − E_x H(p(y|x))): high when each sample is confidently one
    class (low conditional entropy) and the classes are balanced (high marginal entropy).
    It lies in [1, C]; 10 for MNIST means sharp digits of all ten kinds in equal numbers.
    ``probabilities`` is N×C with rows summing to 1 (the evaluator's softmax).
    """
    p = _check_samples("inception_score", probabilities, 1, 2).astype(np.float64)
    if np.any(p < 0) or not np.allclose(p.sum(axis=1), 1.0, atol=1e-6):
        raise ValueError("inception_score: expected class probabilities (non-negative rows summing to 1)")
    marginal = p.mean(axis=0)
    # xlogy-style: terms with p(y|x) = 0 contribute 0, never 0·log 0 = NaN
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * (np.log(p) - np.log(marginal)), 0.0)
    kl = terms.sum(axis=1)
    return float(np.exp(np.clip(kl.mean(), 0.0, None)))


# --- Fréchet distance -----------------------------------------------------------------------

def feature_statistics(features):
    """Mean vector and covariance matrix (unbiased, N − 1) of an N×D feature array, float64."""
    features = _check_samples("feature_statistics", features, 2, 2).astype(np.float64)
    mean = features.mean(axis=0)
    centred = features - mean
    return mean, centred.T @ centred / (len(features) - 1)


def _symmetric_sqrt(matrix):
    """The PSD square root of a symmetric matrix via its eigen-decomposition V diag(λ) Vᵀ:
    V diag(√λ) Vᵀ, with the tiny negative eigenvalues that rounding leaves clipped to 0."""
    eigenvalues, eigenvectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))) @ eigenvectors.T


def trace_sqrt_product(sigma1, sigma2):
    """Tr((Σ₁Σ₂)^½) for symmetric positive semi-definite Σ₁, Σ₂, with no complex arithmetic.

    Σ₁Σ₂ is not symmetric, so a general matrix square root (``scipy.linalg.sqrtm``) can
    return complex values with small imaginary parts and fail on singular covariances.
    But Σ₁Σ₂ = Σ₁^½ (Σ₁^½ Σ₂ Σ₁^½) Σ₁^-½ is similar to M = Σ₁^½ Σ₂ Σ₁^½, which is
    symmetric PSD, so both have the same non-negative eigenvalues λᵢ and
    Tr((Σ₁Σ₂)^½) = Σᵢ √λᵢ(M): two symmetric eigen-decompositions (``eigh``).
    """
    root1 = _symmetric_sqrt(sigma1)
    middle = root1 @ sigma2 @ root1
    eigenvalues = np.linalg.eigvalsh((middle + middle.T) / 2)
    return float(np.sum(np.sqrt(np.clip(eigenvalues, 0.0, None))))


def frechet_distance(mu1, sigma1, mu2, sigma2):
    """Fréchet (2-Wasserstein) distance between N(μ₁, Σ₁) and N(μ₂, Σ₂):

        d² = ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2 (Σ₁Σ₂)^½)

    Returned as d² (the number FID reports), clipped at 0 against rounding.
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != mu1.shape * 2:
        raise ValueError(f"frechet_distance: means {mu1.shape} and {mu2.shape} and covariances {sigma1.shape} "
                         f"and {sigma2.shape} do not describe two Gaussians of the same dimension")
    difference = mu1 - mu2
    distance = difference @ difference + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_sqrt_product(sigma1, sigma2)
    return float(max(distance, 0.0))


def fid(features1, features2):
    """Fréchet distance between Gaussians fitted to two N×D feature sets (the evaluator's
    penultimate layer here, Inception's pool layer in the original FID).

    Each set needs at least 2 samples for a covariance; the estimate is biased upwards for
    small N and only trustworthy with N well above D (compare numbers at the same N).
    """
    features1 = _check_samples("fid (first set)", features1, 2, 2)
    features2 = _check_samples("fid (second set)", features2, 2, 2)
    if features1.shape[1] != features2.shape[1]:
        raise ValueError(f"fid: feature dimensions differ ({features1.shape[1]} and {features2.shape[1]})")
    return frechet_distance(*feature_statistics(features1), *feature_statistics(features2))


# --- precision and recall -------------------------------------------------------------------

# Distances are computed this many rows at a time: a 1000 × 10 000 block of float64 is
# 80 MB, so memory stays bounded however large the sets are.
DISTANCE_CHUNK = 1000


def _squared_distances(a, b, b_squared_norms):
    """‖aᵢ − bⱼ‖² for all pairs, as ‖aᵢ‖² + ‖bⱼ‖² − 2 aᵢ·bⱼ: one matrix product, then in-place
    updates of that one m×n block (a temporary per term would be slower), clipped
    at 0 because rounding can make a tiny distance negative."""
    d = a @ b.T
    d *= -2
    d += (a * a).sum(1)[:, None]
    d += b_squared_norms[None, :]
    return np.maximum(d, 0.0, out=d)


def knn_radii(features, k=3, chunk=DISTANCE_CHUNK):
    """Squared distance from each sample to its k-th nearest *other* sample in the same set.

    The sample itself (distance 0) is excluded by its index, not by value, so exact
    duplicates still count as neighbours at distance 0.
    """
    features = np.asarray(features, np.float64)
    n = len(features)
    if n < k + 1:
        raise ValueError(f"k-NN radii with k={k} need at least {k + 1} samples, got {n}")
    norms = (features * features).sum(1)
    radii = np.empty(n)
    for start in range(0, n, chunk):
        d = _squared_distances(features[start:start + chunk], features, norms)
        rows = np.arange(len(d))
        d[rows, start + rows] = np.inf  # self-distance excluded
        radii[start:start + chunk] = np.partition(d, k - 1, axis=1)[:, k - 1]
    return radii


def _fraction_inside(queries, support, radii, chunk=DISTANCE_CHUNK):
    """Fraction of ``queries`` within radius of at least one support point: ‖q − s‖² ≤ r(s)²."""
    norms = (support * support).sum(1)
    inside = np.zeros(len(queries), dtype=bool)
    for start in range(0, len(queries), chunk):
        d = _squared_distances(queries[start:start + chunk], support, norms)
        inside[start:start + chunk] = np.any(d <= radii[None, :], axis=1)
    return float(inside.mean())


def precision_recall(real, generated, k=3, chunk=DISTANCE_CHUNK, real_radii=None):
    """Improved precision and recall (Kynkäänniemi et al., 2019), returned as (precision, recall).

    Each set's manifold is the union of balls around its samples, each ball reaching to that
    sample's k-th nearest neighbour in its own set (k = 3).  Then

        precision = fraction of generated samples inside the real manifold   (are they realistic?)
        recall    = fraction of real samples inside the generated manifold   (is all of the data covered?)

    A collapsed GAN can have high precision but has low recall.  Distances are computed
    ``chunk`` rows at a time, so memory is O(chunk · N), not O(N²).  The paper uses sets of
    equal size; the radii shrink as a set grows, so compare numbers at the same sizes.
    ``real_radii``: ``knn_radii(real, k)`` when already known (the same real set scored
    against several generated sets needs them once).
    """
    real = _check_samples("precision_recall (real)", real, k + 1, 2).astype(np.float64)
    generated = _check_samples("precision_recall (generated)", generated, k + 1, 2).astype(np.float64)
    if real.shape[1] != generated.shape[1]:
        raise ValueError(f"precision_recall: feature dimensions differ ({real.shape[1]} and {generated.shape[1]})")
    if real_radii is None:
        real_radii = knn_radii(real, k, chunk)
    precision = _fraction_inside(generated, real, real_radii, chunk)
    recall = _fraction_inside(real, generated, knn_radii(generated, k, chunk), chunk)
    return precision, recall
