"""The benchmark harness measures what it says, and the by-hand floor computes the right thing."""
import json
import subprocess
import sys

import numpy as np
import torch

from benchmarks.harness import ByHandWorkload, Workload, bench, matmul_demo
from benchmarks.numpy_floor import RefinedClassifierByHand


def test_by_hand_floor_trains_like_pytorch():
    """The floor is a correct implementation: same weights, same data, same updates as PyTorch."""
    floor = RefinedClassifierByHand(seed=0)
    w1, b1, lw, lb, w2, b2 = floor.params
    model = torch.nn.Sequential(torch.nn.Linear(784, 200), torch.nn.LeakyReLU(0.02), torch.nn.LayerNorm(200),
                                torch.nn.Linear(200, 10), torch.nn.Sigmoid())
    with torch.no_grad():
        for p, value in zip(model.parameters(), (w1, b1, lw, lb, w2, b2)):
            p.copy_(torch.from_numpy(value))
    optimiser = torch.optim.Adam(model.parameters())
    rng = np.random.default_rng(0)
    for _ in range(5):
        x, t = rng.random(784).astype(np.float32), np.eye(10, dtype=np.float32)[rng.integers(10)]
        ours = floor.step(x, t)
        loss = torch.nn.functional.binary_cross_entropy(model(torch.from_numpy(x)), torch.from_numpy(t))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        assert abs(ours - loss.item()) < 1e-5
    for p, value in zip(model.parameters(), floor.params):
        np.testing.assert_allclose(value, p.detach().numpy(), rtol=1e-4, atol=1e-6)


def test_bench_records_have_the_promised_keys():
    records = bench("pattern-1010", seconds=0.3)
    assert {r["engine"] for r in records} == {"minigrad", "torch"}
    for r in records:
        for key in ("experiment", "engine", "device", "median_us", "ratio_to_torch"):
            assert key in r
        assert r["median_us"] > 0 and r["p25_us"] <= r["median_us"] <= r["p75_us"]
    assert next(r for r in records if r["engine"] == "torch")["ratio_to_torch"] == 1.0


def test_workload_times_training_only_and_changes_the_weights():
    load = Workload("classifier", "minigrad")
    before = load.models.classifier.model[0].weight.detach().numpy().copy()
    assert load.run(5) > 0
    assert not np.array_equal(before, load.models.classifier.model[0].weight.detach().numpy())
    assert ByHandWorkload().run(2) > 0


def test_matmul_demo_says_it_extrapolates():
    records = matmul_demo(n=60, loop_n=20)
    loop = next(r for r in records if r["engine"] == "python-loops")
    assert "extrapolated" in loop["note"] and loop["median_us"] > next(
        r for r in records if r["engine"] == "numpy")["median_us"]


def test_cli_bench_writes_json(tmp_path):
    out = tmp_path / "bench.json"
    result = subprocess.run([sys.executable, "-m", "gans", "bench", "pattern-1010", "--seconds", "0.3",
                             "--no-save", "--no-matmul", "--json", str(out)], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    records = json.loads(out.read_text())
    assert [r["experiment"] for r in records] == ["pattern-1010", "pattern-1010"]
    assert "1 thread(s) per engine" in result.stdout


def test_example_programs_are_benchmarked_at_batch_64_on_both_engines():
    from benchmarks.programs import ProgramWorkload
    records = bench("dcgan-b64", seconds=0.5)
    assert {r["engine"] for r in records} == {"minigrad", "torch"}
    assert all(r["ratio_to_torch"] > 0 for r in records)
    load = ProgramWorkload("mnist-cnn-b64", "minigrad")
    assert load.batches[0][0].shape == (64, 1, 28, 28) and load.run(1) > 0


def test_calls_per_step_are_counted_not_timed():
    from benchmarks.profile import calls_per_step
    gan = calls_per_step("pattern-1010", "minigrad", steps=10)
    assert gan == calls_per_step("pattern-1010", "minigrad", steps=10)  # the same count every time
    # a GAN step is three passes (D on real, D on fake, G through D) of the classifier's one
    assert calls_per_step("classifier", "minigrad", steps=10) < gan


def test_minigrad_plain_is_timed_without_accel_and_with_it_again_after():
    """``--engine minigrad-plain``: made and run with minigrad.accel detached, side by side."""
    from benchmarks.harness import WithoutAccel
    from minigrad import accel
    from minigrad.optim.optimizer import Optimizer

    class Probe:
        def __init__(self):
            self.seen = [Optimizer._plan is accel.plain(Optimizer, "_plan")]

        def run(self, iterations):
            self.seen.append(Optimizer._plan is accel.plain(Optimizer, "_plan"))
            return 1.0
    load = WithoutAccel(Probe)
    load.run(1)
    assert load.load.seen == [True, True]
    assert (Optimizer._plan is accel.plain(Optimizer, "_plan")) is not accel.ENABLED  # attached again
    records = bench("pattern-1010", engines=("minigrad", "minigrad-plain"), seconds=0.3)
    assert [r["engine"] for r in records] == ["minigrad", "minigrad-plain"]
    assert all(r["median_us"] > 0 for r in records)
