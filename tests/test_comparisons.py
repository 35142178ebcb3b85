"""The comparison finds minigrad and PyTorch equal where they are, and can fail where they are not."""
import json

import numpy as np
import pytest

import comparisons
from comparisons.compare import difference
from gans import cli, experiments
from gans.data import make_synthetic_celeba

STEPS = {"celeba-gan": 2, "celeba-cnn-gan": 2, "celeba-cnn-gan-gelu": 2}  # heavy: 47M / 4M parameters


@pytest.fixture(scope="module")
def celeba_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("celeba") / "faces.h5"
    make_synthetic_celeba(path, 4, seed=1)
    return path


@pytest.mark.parametrize("name", list(experiments.EXPERIMENTS))
def test_float64_parity_of_every_experiment(name, celeba_file):
    import minigrad.nn
    if "cnn" in name and not hasattr(minigrad.nn, "Conv2d"):
        pytest.skip("minigrad has no Conv2d yet")
    data = celeba_file if name.startswith("celeba") else None
    steps = STEPS.get(name, 40)
    report = comparisons.compare(name, steps=steps, dtype="float64", every=1 if steps > 2 else 2, data=data,
                                 limit=50)
    assert report.first_divergent_step is None, comparisons.summary(report)
    assert report.max_rel_param_diff < 1e-9 and report.max_rel_grad_diff < 1e-9
    assert report.max_abs_loss_diff < 1e-9
    kinds = {entry["kind"] for entry in report.per_tensor.values()}
    expected = {"param", "grad"} if name in ("classifier", "pattern-1010", "mnist-gan-first") else {
        "param", "grad", "state"}  # plain SGD keeps no state; Adam's moments are compared
    assert kinds == expected


def test_float32_differences_are_rounding_sized():
    report = comparisons.compare("classifier-refined", steps=50, dtype="float32", every=5)
    assert 0 < report.max_rel_param_diff < 1e-4  # float32 rounding shows, but stays small


def test_a_deliberate_bug_is_caught_and_located(monkeypatch):
    """Change LeakyReLU's slope in minigrad only: the very first step must diverge there."""
    from minigrad.ops import elementwise
    original = elementwise.LeakyRelu.__init__
    monkeypatch.setattr(elementwise.LeakyRelu, "__init__",
                        lambda self, negative_slope=0.01: original(self, negative_slope * 1.5))
    report = comparisons.compare("mnist-gan", steps=5, dtype="float64")
    assert report.first_divergent_step == 1
    assert report.first_divergent_tensor.endswith(".grad") or "weight" in report.first_divergent_tensor
    assert report.max_rel_grad_diff > 1e-6


def test_batchnorm_running_statistics_are_compared():
    import minigrad.nn
    if not hasattr(minigrad.nn, "BatchNorm2d"):
        pytest.skip("minigrad has no BatchNorm2d yet")
    report = comparisons.compare("mnist-cnn", steps=3, dtype="float64")
    assert "classifier.2.running_var" in report.per_tensor and "classifier.5.running_mean" in report.per_tensor


def test_report_files_and_keys(tmp_path):
    extra = tmp_path / "extra.json"
    assert cli.main(["compare", "pattern-1010", "--steps", "20", "--every", "5", "--out", str(tmp_path),
                     "--json", str(extra)]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    for key in ("experiment", "steps", "dtype", "device", "max_abs_loss_diff", "max_rel_param_diff",
                "max_rel_grad_diff", "first_divergent_step", "seconds_per_step", "per_tensor"):
        assert key in report, key
    assert report["experiment"] == "pattern-1010" and report["steps"] == 20
    assert set(report["seconds_per_step"]) == set(report["first_step_seconds"]) == {"torch-cpu", "minigrad-cpu"}
    assert all(seconds > 0 for seconds in report["seconds_per_step"].values())
    assert [row["step"] for row in report["history"]] == [5, 10, 15, 20]
    assert json.loads(extra.read_text()) == report
    assert (tmp_path / "report.png").stat().st_size > 0 and (tmp_path / "samples.png").stat().st_size > 0


def test_difference_is_normwise_relative():
    assert difference(np.array([1.0, 2.0]), np.array([1.0, 2.5])) == (0.5, 0.2)
    assert difference(np.zeros(3), np.zeros(3)) == (0.0, 0.0)


def test_zero_gradients_are_recognised_as_rounding_noise():
    """A bias right before BatchNorm has an exactly-zero gradient; rounding noise there is not a bug."""
    from comparisons.compare import noise_driven
    grads = {"G.0.weight.grad": np.array([0.3, -0.2]), "G.0.bias.grad": np.array([1e-17, -3e-17]),
             "G.2.bias.grad": np.array([1e-3]), "D.0.bias.grad": np.array([1e-17])}
    assert noise_driven(grads, np.finfo(np.float64).eps) == ["G.0.bias", "G.1.running_mean"]
