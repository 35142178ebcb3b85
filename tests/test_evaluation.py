"""The evaluator and the metrics: known answers on constructed inputs, the evaluator's
accuracy on real test digits, both engines agreeing, degenerate inputs, and the CLI."""
import json
import re

import numpy as np
import pytest
import scipy.linalg

from gans import cli, training
from gans.data import DataError, find_full_mnist, load_mnist, load_mnist_subset
from gans.evaluation import metrics as M
from gans.evaluation.evaluator import as_images, load_evaluator, read_weights
from gans.evaluation.scoring import RealDigits, load_images, score_images

LOG10 = np.log(10)


# --- class histogram, coverage, KL ---------------------------------------------------------

def test_one_class_gives_coverage_1_and_kl_log_10():
    predicted = np.full(500, 7)
    assert M.mode_coverage(predicted) == 1
    assert M.class_histogram(predicted).tolist() == [0] * 7 + [500, 0, 0]
    assert M.kl_uniform(predicted) == pytest.approx(LOG10, abs=1e-12)


def test_balanced_classes_give_coverage_10_and_kl_0():
    predicted = np.arange(1000) % 10
    assert M.mode_coverage(predicted) == 10
    assert M.kl_uniform(predicted) == pytest.approx(0.0, abs=1e-12)


def test_coverage_counts_classes_above_one_percent_only():
    # 3 samples in 1000 is 0.3%: a stray, not a mode; 10 in 1000 is exactly 1%: a mode
    predicted = np.concatenate([np.zeros(987, int), np.full(3, 1), np.full(10, 2)])
    assert M.mode_coverage(predicted) == 2


def test_kl_uniform_matches_its_definition():
    rng = np.random.default_rng(0)
    predicted = rng.integers(0, 4, 300)
    p = np.bincount(predicted, minlength=10) / 300
    nonzero = p[p > 0]
    assert M.kl_uniform(predicted) == pytest.approx(np.sum(nonzero * np.log(nonzero * 10)), rel=1e-12)


def test_label_accuracy():
    assert M.label_accuracy(np.array([1, 2, 3, 4]), np.array([1, 2, 0, 4])) == 0.75
    with pytest.raises(ValueError, match="4 predictions"):
        M.label_accuracy(np.array([1, 2, 3, 4]), np.array([1, 2]))


# --- Inception score -----------------------------------------------------------------------

def test_inception_score_extremes():
    sharp_balanced = np.eye(10)[np.arange(100) % 10]
    assert M.inception_score(sharp_balanced) == pytest.approx(10.0, rel=1e-12)
    sharp_one_class = np.eye(10)[np.full(100, 3)]
    assert M.inception_score(sharp_one_class) == pytest.approx(1.0, rel=1e-12)
    confused = np.full((100, 10), 0.1)
    assert M.inception_score(confused) == pytest.approx(1.0, rel=1e-12)


def test_inception_score_matches_exp_of_entropy_difference():
    rng = np.random.default_rng(1)
    p = rng.dirichlet(np.full(10, 0.3), size=200)
    marginal = p.mean(0)
    entropy = lambda q: -np.sum(q * np.log(q), axis=-1)  # noqa: E731
    expected = np.exp(entropy(marginal) - entropy(p).mean())
    assert M.inception_score(p) == pytest.approx(expected, rel=1e-10)
    assert 1.0 <= M.inception_score(p) <= 10.0


# --- Fréchet distance ------------------------------------------------------------------------

def test_identical_sets_give_fid_zero():
    features = np.random.default_rng(2).standard_normal((500, 16))
    assert M.fid(features, features) == pytest.approx(0.0, abs=1e-9)


def test_frechet_distance_of_known_gaussians_is_the_closed_form():
    # diagonal covariances commute: d² = ‖μ₁−μ₂‖² + Σ (√a − √b)²
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 1.0])
    expected = 1 + 0 + 4 + (1 - 2) ** 2 + (2 - 1) ** 2 + (3 - 1) ** 2
    assert M.frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-12)


def test_frechet_distance_agrees_with_a_general_matrix_square_root():
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((8, 8)), rng.standard_normal((8, 8))
    s1, s2 = x @ x.T + 0.1 * np.eye(8), y @ y.T + 0.1 * np.eye(8)  # not commuting
    expected = np.trace(s1 + s2 - 2 * scipy.linalg.sqrtm(s1 @ s2).real)
    assert M.frechet_distance(np.zeros(8), s1, np.zeros(8), s2) == pytest.approx(expected, rel=1e-9)


def test_fid_of_samples_approaches_the_closed_form():
    rng = np.random.default_rng(4)
    n, d = 40000, 4
    a = rng.standard_normal((n, d)) * np.array([1.0, 2.0, 0.5, 1.0])
    b = rng.standard_normal((n, d)) * np.array([2.0, 1.0, 0.5, 1.0]) + np.array([1.0, 0.0, 0.0, 0.0])
    expected = 1.0 + (1 - 2) ** 2 + (2 - 1) ** 2
    assert M.fid(a, b) == pytest.approx(expected, abs=0.05)


def test_fid_survives_singular_and_constant_features():
    rng = np.random.default_rng(5)
    low_rank = rng.standard_normal((50, 2)) @ rng.standard_normal((2, 20))  # rank 2 in 20 dimensions
    constant = np.ones((50, 20))
    for a, b in [(low_rank, constant), (constant, constant), (low_rank, low_rank + 1)]:
        value = M.fid(a, b)
        assert np.isfinite(value) and value >= 0 and isinstance(value, float)
    assert M.fid(constant, constant) == 0.0
    assert M.fid(low_rank, low_rank + 1) == pytest.approx(20.0, rel=1e-6)


def test_fid_needs_two_samples_and_matching_dimensions():
    with pytest.raises(ValueError, match="at least 2 samples"):
        M.fid(np.ones((1, 5)), np.ones((10, 5)))
    with pytest.raises(ValueError, match="dimensions differ"):
        M.fid(np.ones((10, 5)), np.ones((10, 6)))
    with pytest.raises(ValueError, match="NaN"):
        M.fid(np.full((10, 5), np.nan), np.ones((10, 5)))


# --- precision and recall --------------------------------------------------------------------

def test_precision_recall_of_identical_sets_is_one():
    features = np.random.default_rng(6).standard_normal((300, 8))
    assert M.precision_recall(features, features) == (1.0, 1.0)


def test_precision_recall_of_disjoint_sets_is_zero():
    rng = np.random.default_rng(7)
    real, far = rng.standard_normal((300, 8)), rng.standard_normal((300, 8)) + 100
    assert M.precision_recall(real, far) == (0.0, 0.0)


def test_collapsed_samples_have_precision_but_no_recall():
    rng = np.random.default_rng(8)
    real = rng.standard_normal((1000, 2))
    collapsed = np.zeros((1000, 2)) + 0.01 * rng.standard_normal((1000, 2))  # all near one real point
    precision, recall = M.precision_recall(real, collapsed)
    assert precision > 0.95 and recall < 0.1


def test_knn_radii_exclude_self_but_not_duplicates():
    points = np.array([[0.0], [0.0], [1.0], [3.0], [6.0]])
    # k=1: each point's nearest other point; the duplicate zeros are each other's neighbour
    np.testing.assert_array_equal(M.knn_radii(points, k=1), [0.0, 0.0, 1.0, 4.0, 9.0])
    np.testing.assert_array_equal(M.knn_radii(points, k=3), [9.0, 9.0, 4.0, 9.0, 36.0])


def test_precision_recall_is_the_same_in_any_chunk_size():
    rng = np.random.default_rng(9)
    real, fake = rng.standard_normal((230, 5)), rng.standard_normal((170, 5)) * 1.3 + 0.2
    assert M.precision_recall(real, fake, chunk=7) == M.precision_recall(real, fake, chunk=1000)


def test_precision_recall_needs_k_plus_one_samples():
    with pytest.raises(ValueError, match="at least 4 samples"):
        M.precision_recall(np.ones((3, 2)), np.ones((10, 2)))


# --- the evaluator -----------------------------------------------------------------------------

def test_weight_file_has_no_pickle_and_describes_itself():
    meta, state = read_weights()
    assert meta["test_accuracy"] >= 0.99 and meta["test_examples"] == 10000
    assert meta["train_examples"] == 60000 and "Adam" in json.dumps(meta["recipe"])
    assert all(v.dtype == np.float32 for v in state.values())


def test_minigrad_and_torch_give_the_same_logits_for_the_shipped_weights():
    images = load_mnist("test").images[:64]
    f_minigrad, l_minigrad = load_evaluator("minigrad", dtype="float64").features_and_logits(images)
    f_torch, l_torch = load_evaluator("torch", dtype="float64").features_and_logits(images)
    assert f_minigrad.shape == (64, 128) and l_minigrad.shape == (64, 10)
    np.testing.assert_allclose(l_minigrad, l_torch, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(f_minigrad, f_torch, rtol=1e-9, atol=1e-9)


def test_evaluator_accuracy_on_real_test_digits():
    """≥ 99% on the full 10 000 test digits when this machine has them, ≥ 98% on the subset."""
    folder = find_full_mnist()
    test = load_mnist("test", folder)
    accuracy = float(np.mean(load_evaluator("torch").predict(test.images) == test.labels))
    assert accuracy >= (0.99 if folder else 0.98), (accuracy, test.source)
    if folder:
        assert accuracy == pytest.approx(read_weights()[0]["test_accuracy"], abs=1e-4)


def test_images_are_checked_at_the_boundary():
    with pytest.raises(ValueError, match=r"N×784.*got shape \(5, 27, 28\)"):
        as_images(np.zeros((5, 27, 28)))
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\], got the range \[255, 255\]"):
        as_images(np.full((2, 784), 255.0))
    with pytest.raises(ValueError, match="NaN"):
        as_images(np.full((2, 784), np.nan))
    with pytest.raises(ValueError, match="no images"):
        as_images(np.zeros((0, 784)))
    assert as_images(np.full((3, 28, 28), 255, np.uint8)).max() == 1.0


# --- scoring: real digits, noise, one repeated digit --------------------------------------------

@pytest.fixture(scope="module")
def real():
    """Real digits from the subset shipped in the package (fast, and present everywhere)."""
    return RealDigits(load_evaluator("torch"), load_mnist_subset("test"), load_mnist_subset("train"))


def test_real_digits_score_like_real_data_and_noise_and_one_digit_score_badly(real):
    n = 1000
    train = real.train.images[:n].astype(np.float64) / 255
    scores = score_images(train, real)
    base = scores["real_baseline"]
    assert scores["mode_coverage"] == 10 and scores["kl_uniform"] < 0.01
    assert scores["fid"] < 3 * base["fid"] + 1
    assert base["mode_coverage"] == 10 and base["precision"] > 0.6 and base["recall"] > 0.6

    noise = score_images(np.random.default_rng(0).random((n, 784)), real, baseline=False)
    one_digit = score_images(np.repeat(train[:1], n, axis=0), real, baseline=False)
    for bad in (noise, one_digit):
        assert bad["fid"] > 10 * base["fid"]
        assert bad["recall"] < 0.05
        assert all(np.isfinite(v) for k, v in bad.items() if isinstance(v, float))
    assert one_digit["mode_coverage"] == 1 and one_digit["kl_uniform"] == pytest.approx(LOG10)
    assert one_digit["inception_score"] < 1.1


def test_scoring_too_few_images_is_a_clear_error(real):
    with pytest.raises(ValueError, match="at least 4 images"):
        score_images(np.zeros((3, 784)), real)
    scores = score_images(np.zeros((4, 784)), real)  # degenerate but allowed: finite numbers, a note
    assert all(np.isfinite(v) for v in scores.values() if isinstance(v, float)) and "note" in scores


# --- end of training and the CLI -------------------------------------------------------------------

@pytest.mark.parametrize("name", ["mnist-gan-first", "mnist-cgan"])
def test_training_adds_the_metrics_and_the_cli_scores_the_run(name, tmp_path, capsys):
    metrics = training.train(name, "torch", limit=20, steps=20, out=tmp_path, progress=False, eval_samples=300)
    keys = ["mode_coverage", "class_histogram", "kl_uniform", "inception_score", "fid", "precision", "recall"]
    keys += ["label_accuracy"] if name == "mnist-cgan" else []
    saved = json.loads((tmp_path / "metrics.json").read_text())
    for key in keys + ["real_baseline", "eval_samples"]:
        assert key in saved and key in metrics, key
    assert saved["eval_samples"] == 300 and sum(saved["class_histogram"]) == 300
    assert ("label_accuracy" in saved) == (name == "mnist-cgan")

    out = tmp_path / "eval.json"
    assert cli.main(["eval", str(tmp_path), "--n", "200", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["n"] == 200 and set(keys) <= result.keys() and set(keys) <= result["real_baseline"].keys()
    assert "real baseline" in capsys.readouterr().out


def test_cli_scores_an_image_file_and_reports_bad_ones(tmp_path, capsys):
    images = tmp_path / "noise.npy"
    np.save(images, np.random.default_rng(1).random((50, 28, 28)))
    assert cli.main(["eval", "--images", str(images), "--json", str(tmp_path / "s.json")]) == 0
    assert json.loads((tmp_path / "s.json").read_text())["n"] == 50
    assert cli.main(["eval", "--images", str(images), "--n", "20", "--json", str(tmp_path / "s.json")]) == 0
    assert json.loads((tmp_path / "s.json").read_text())["n"] == 20  # the first 20
    np.save(images, np.full((50, 784), 255.0))
    assert cli.main(["eval", "--images", str(images)]) == 2
    assert capsys.readouterr().err == (f"gans eval: error: {images}: pixel values must lie in [0, 1], "
                                       "got the range [255, 255]\n")
    images.write_bytes(b"\x80\x04 a pickle, or anything else")
    assert cli.main(["eval", "--images", str(images)]) == 2
    assert capsys.readouterr().err.startswith(f"gans eval: error: {images}: not a .npy file")


@pytest.mark.parametrize("array, problem", [
    (np.zeros((5, 27, 28)), r"expected N×784, N×28×28 or N×1×28×28 digit images, got shape \(5, 27, 28\)"),
    (np.zeros((0, 784)), r"no images"),
    (np.zeros((2, 784), bool), r"expected floating-point pixels in \[0, 1\] \(or uint8 0..255\), got dtype bool"),
    (np.zeros((2, 784), complex), r"expected floating-point pixels .*, got dtype complex128"),
    (np.full((2, 784), np.inf), r"1568 pixel values are NaN or infinite"),
    (np.full((2, 784), -0.5), r"pixel values must lie in \[0, 1\], got the range \[-0.5, -0.5\]"),
    (np.zeros(2, dtype=[("x", "<f8")]), r"expected N×784"),
])
def test_an_image_file_that_is_not_digits_in_0_1_is_named_with_what_it_holds(tmp_path, array, problem):
    path = tmp_path / "samples.npy"
    np.save(path, array)
    with pytest.raises(DataError, match=f"^{re.escape(str(path))}: {problem}"):
        load_images(path)


def test_an_image_file_loads_as_checked_images(tmp_path):
    path = tmp_path / "samples.npy"
    np.save(path, np.full((3, 1, 28, 28), 255, np.uint8))
    images = load_images(path)
    assert images.dtype == np.float64 and images.shape == (3, 1, 28, 28) and np.all(images == 1)


def test_cli_scores_a_classifier_run(tmp_path, capsys):
    training.train("classifier-refined", "minigrad", steps=50, out=tmp_path, progress=False)
    assert cli.main(["eval", str(tmp_path), "--json", str(tmp_path / "e.json")]) == 0
    result = json.loads((tmp_path / "e.json").read_text())
    assert 0 <= result["test_accuracy"] <= 1 and len(result["confusion_matrix"]) == 10


def test_too_few_eval_samples_is_refused_before_training(tmp_path):
    with pytest.raises(ValueError, match="at least 4 images .*, got 3"):
        training.train("mnist-gan", "minigrad", steps=5, out=tmp_path / "run", progress=False, eval_samples=3)
    assert not (tmp_path / "run").exists()
