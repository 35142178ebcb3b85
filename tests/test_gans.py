"""The book's experiments: a few training steps of each on both engines, checkpoints,
resume, engine-interchangeable checkpoints, the seed experiments, appendices and CLI."""
import csv
import json
import os

import numpy as np
import pytest

from gans import checkpoint, cli, experiments, training
from gans.appendix import adversarial_gradient_descent, book_grid_samples, pixel_probability_samples
from gans.data import make_synthetic_celeba

SMALL = [n for n, x in experiments.EXPERIMENTS.items() if not x.data.startswith("celeba")]
CONV = {"mnist-cnn", "celeba-cnn-gan", "celeba-cnn-gan-gelu"}


@pytest.fixture(scope="module")
def celeba_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("celeba") / "faces.h5"
    make_synthetic_celeba(path, 4, seed=0)
    return path


def _needs_conv(name):
    import minigrad.nn as nn
    if name in CONV and not hasattr(nn, "Conv2d"):
        pytest.skip("minigrad has no Conv2d yet")


@pytest.mark.parametrize("engine", ["minigrad", "torch"])
@pytest.mark.parametrize("name", SMALL)
def test_every_small_experiment_trains_on_both_engines(name, engine, tmp_path):
    _needs_conv(name)
    metrics = training.train(name, engine, limit=20, steps=20, out=tmp_path, progress=False, log_every=5)
    assert metrics["steps"] == 20 and metrics["engine"] == engine
    rows = list(csv.DictReader(open(tmp_path / "losses.csv")))
    assert [int(r["step"]) for r in rows] == [5, 10, 15, 20]
    for column in training.LOSS_COLUMNS[experiments.get(name).kind]:
        assert all(np.isfinite(float(r[column])) for r in rows)
    for f in ("config.json", "metrics.json", "loss.png", "samples.png", "checkpoint.npz"):
        assert (tmp_path / f).stat().st_size > 0, f
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["seconds_per_step"] > 0 and saved["data"]
    if experiments.get(name).kind == "classifier":
        assert 0 <= saved["test_accuracy"] <= 1 and saved["test_examples"] == 1000


@pytest.mark.parametrize("engine", ["minigrad", "torch"])
@pytest.mark.parametrize("name", ["celeba-gan", "celeba-cnn-gan", "celeba-cnn-gan-gelu"])
def test_celeba_experiments_train_on_synthetic_data_and_say_so(name, engine, celeba_file, tmp_path, capsys):
    _needs_conv(name)
    metrics = training.train(name, engine, data=celeba_file, steps=2, out=tmp_path, progress=False,
                             log_every=1)
    assert metrics["synthetic_data"] is True and "synthetic" in metrics["data"]
    assert "SYNTHETIC" in capsys.readouterr().out
    assert np.isfinite(metrics["final_g"])


def test_a_few_hundred_steps_learn(tmp_path):
    """Not just 'it runs': the refined classifier beats chance clearly after 600 examples."""
    metrics = training.train("classifier-refined", "minigrad", steps=600, out=tmp_path, progress=False)
    assert metrics["test_accuracy"] > 0.6


def test_pattern_gan_reaches_the_ideal_mse_loss(tmp_path):
    metrics = training.train("pattern-1010", "minigrad", steps=3000, out=tmp_path, progress=False)
    assert abs(metrics["final_d_real"] - 0.25) < 0.05 and abs(metrics["final_d_fake"] - 0.25) < 0.05


def _weights(run_dir):
    _, arrays = checkpoint.load(run_dir / "checkpoint.npz")
    return arrays


@pytest.mark.parametrize("name", ["mnist-gan", "classifier"])
def test_interrupted_and_resumed_equals_uninterrupted(name, tmp_path):
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    training.train(name, "minigrad", steps=30, out=whole, progress=False, log_every=5)
    training.train(name, "minigrad", steps=30, out=parts, progress=False, stop_after=12, log_every=5)
    training.train(name, "minigrad", steps=30, out=parts, progress=False, resume=True)
    a, b = _weights(whole), _weights(parts)
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    assert (whole / "losses.csv").read_text() == (parts / "losses.csv").read_text()


def test_checkpoint_written_by_torch_continues_on_minigrad(tmp_path):
    """Same state_dict keys and shapes: train on PyTorch, continue on minigrad (float64, so
    the continuation matches PyTorch continuing itself to rounding)."""
    torch_run, mixed_run = tmp_path / "torch", tmp_path / "mixed"
    training.train("mnist-gan", "torch", dtype="float64", steps=20, out=torch_run, progress=False)
    training.train("mnist-gan", "torch", dtype="float64", steps=20, out=mixed_run, progress=False, stop_after=10)
    training.train("mnist-gan", "minigrad", dtype="float64", steps=20, out=mixed_run, progress=False, resume=True)
    a, b = _weights(torch_run), _weights(mixed_run)
    for key in a:
        np.testing.assert_allclose(b[key], a[key], rtol=1e-9, atol=1e-12, err_msg=key)
    assert json.loads((mixed_run / "metrics.json").read_text())["engine"] == "minigrad"


def test_checkpoint_write_is_atomic(tmp_path):
    target = tmp_path / "checkpoint.npz"
    checkpoint.write_atomically(target, lambda f: f.write(b"good"))

    def crash(f):
        f.write(b"half")
        raise KeyboardInterrupt  # killed mid-write

    with pytest.raises(KeyboardInterrupt):
        checkpoint.write_atomically(target, crash)
    assert target.read_bytes() == b"good"
    assert list(tmp_path.iterdir()) == [target]  # no temporary file left behind
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask  # a normal file, not private


def test_checkpoint_loads_without_pickle(tmp_path):
    training.train("pattern-1010", "minigrad", steps=5, out=tmp_path, progress=False)
    with np.load(tmp_path / "checkpoint.npz", allow_pickle=False) as f:
        assert all(f[k].dtype != object for k in f.files)
    meta, arrays = checkpoint.load(tmp_path / "checkpoint.npz")
    assert meta["step"] == 5 and "model/D/0.weight" in arrays and arrays["model/G/2.weight"].shape == (4, 3)


def test_broken_checkpoint_is_a_clear_error(tmp_path):
    (tmp_path / "checkpoint.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match=r"checkpoint.npz: not a checkpoint \(an .npz is a zip archive; this file "
                                         r"starts with b'not a zi'\)"):
        checkpoint.load(tmp_path / "checkpoint.npz")


def test_same_seed_same_run(tmp_path):
    a = training.train("mnist-gan", "minigrad", steps=10, seed=3, out=tmp_path / "a", progress=False, log_every=1)
    b = training.train("mnist-gan", "minigrad", steps=10, seed=3, out=tmp_path / "b", progress=False, log_every=1)
    assert (tmp_path / "a" / "losses.csv").read_text() == (tmp_path / "b" / "losses.csv").read_text()
    assert a["final_g"] == b["final_g"]


def test_engines_see_the_same_data_stream():
    x = experiments.get("mnist-cgan")
    data = training.load_data(x, limit=5)
    first = list(x.stream(data, np.random.default_rng(0), 0, 3))
    again = list(x.stream(data, np.random.default_rng(0), 0, 3))
    for (_, a), (_, b) in zip(first, again):
        assert a.keys() == b.keys() == {"real", "label", "seed_d", "label_d", "seed_g", "label_g"}
        for k in a:
            np.testing.assert_array_equal(a[k], b[k])


def test_generate_seed_experiments(tmp_path):
    run = tmp_path / "run"
    training.train("mnist-cgan", "minigrad", steps=5, out=run, progress=False)
    from gans.generate import generate
    assert generate(run, tmp_path / "i.png", interpolate=True).images.shape == (12, 28, 28)  # the book's 3×4
    assert generate(run, tmp_path / "s.png", seed_arithmetic="difference").images.shape == (3, 28, 28)
    assert generate(run, tmp_path / "p.png", seed_arithmetic="product").images.shape == (3, 28, 28)
    assert generate(run, tmp_path / "l.png", n=4, label=7).images.shape == (4, 28, 28)
    assert (tmp_path / "i.png").stat().st_size > 0


def test_appendix_d_spirals_outwards():
    path = adversarial_gradient_descent()
    assert path.shape == (200, 2)  # the book's notebook: 199 steps from (0.6, 0.7)
    radius = np.hypot(path[:, 0], path[:, 1])
    np.testing.assert_allclose(radius[1:] / radius[:-1], np.sqrt(1 + 0.1 ** 2), rtol=1e-12)
    np.testing.assert_allclose(path[1], [0.6 + 0.1 * 0.7, 0.7 - 0.1 * 0.6])  # x ascends, y descends


def test_appendix_b_book_grid_draws_pixels_with_its_probabilities():
    probabilities, drawn = book_grid_samples(count=4000)
    assert not drawn[:, probabilities == 0].any()  # never dark where no example was
    np.testing.assert_allclose(drawn.mean(axis=0), probabilities, atol=0.03)


def test_appendix_b_samples_match_the_grid_on_average():
    grid, drawn = pixel_probability_samples(digit=1, count=8)
    assert grid.shape == (28, 28) and set(np.unique(drawn)) <= {0.0, 1.0}
    assert abs(drawn.mean() - grid.mean()) < 0.02


def test_cli_errors(capsys, tmp_path):
    assert cli.main(["train", "no-such-gan"]) == 2
    assert "unknown experiment 'no-such-gan'" in capsys.readouterr().err
    assert cli.main(["train", "mnist-gan", "--data", str(tmp_path / "missing")]) == 2
    assert "missing" in capsys.readouterr().err
    import minigrad
    if not minigrad.cuda.is_available():
        assert cli.main(["train", "mnist-gan", "--device", "cuda"]) == 2
        assert "cuda" in capsys.readouterr().err.lower()
        assert cli.main(["bench", "classifier", "--device", "cuda", "--no-save"]) == 2  # before any timing
        assert "gans bench: error: CUDA was requested" in capsys.readouterr().err
    assert cli.main(["generate", str(tmp_path), "--out", str(tmp_path / "x.png")]) == 2
    assert "no checkpoint" in capsys.readouterr().err


def test_cli_list_and_train(capsys, tmp_path):
    assert cli.main(["list"]) == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in experiments.EXPERIMENTS)
    assert cli.main(["train", "classifier", "--adam", "--bce", "--limit", "10", "--epochs", "1", "--quiet",
                     "--out", str(tmp_path)]) == 0
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["options"] == {"bce": True, "adam": True}


@pytest.mark.parametrize("name", ["mnist-gan", "classifier-refined"])
def test_cuda_graph_flag_on_the_cpu_trains_like_the_eager_loop(name, tmp_path, recwarn):
    """--cuda-graph: Adam(capturable=True) and minigrad.cuda.graphed, which on the CPU runs the
    step eagerly; the weights match the ordinary run to rounding."""
    from minigrad.cuda import EagerStep
    EagerStep._warned = False
    training.train(name, "minigrad", dtype="float64", steps=15, out=tmp_path / "eager", progress=False,
                   eval_samples=0)
    training.train(name, "minigrad", dtype="float64", steps=15, out=tmp_path / "graph", progress=False,
                   eval_samples=0, cuda_graph=True)
    assert any("runs eagerly" in str(w.message) for w in recwarn)
    a, b = _weights(tmp_path / "eager"), _weights(tmp_path / "graph")
    for key in a:
        np.testing.assert_allclose(b[key], a[key], rtol=1e-12, atol=1e-15, err_msg=key)
    for graph in (False, True):  # PyTorch's capture is eager on the CPU too
        training.train(name, "torch", dtype="float64", steps=15, out=tmp_path / f"torch-{graph}", progress=False,
                       eval_samples=0, cuda_graph=graph)
    a, b = _weights(tmp_path / "torch-False"), _weights(tmp_path / "torch-True")
    for key in a:
        np.testing.assert_array_equal(b[key], a[key], err_msg=key)


def test_the_end_of_a_run_saves_and_draws_once(tmp_path, monkeypatch):
    saved, drawn = [], []
    save, draw = training.CheckpointSaver.save, training.plots.samples
    monkeypatch.setattr(training.CheckpointSaver, "save", lambda self, step: (saved.append(step), save(self, step)))
    monkeypatch.setattr(training.plots, "samples", lambda *args, **kwargs: (drawn.append(1), draw(*args, **kwargs)))
    training.train("mnist-gan", steps=20, out=tmp_path / "a", progress=False, eval_samples=1000, checkpoint_every=2)
    assert saved == list(range(2, 21, 2)) and len(drawn) == 10  # the last picture is the scored one
    saved.clear()
    training.train("mnist-gan", steps=20, stop_after=10, out=tmp_path / "b", progress=False, eval_samples=0,
                   checkpoint_every=2)
    assert saved == [2, 4, 6, 8, 10]


def test_checkpoints_are_spaced_by_time_unless_steps_are_given(tmp_path, monkeypatch):
    saved = []
    save = training.CheckpointSaver.save
    monkeypatch.setattr(training.CheckpointSaver, "save", lambda self, step: (saved.append(step), save(self, step)))
    metrics = training.train("pattern-1010", steps=300, out=tmp_path / "a", progress=False)
    assert saved == [300]  # five minutes apart by default: a short run writes once, at the end
    saved.clear()
    clock = iter(range(0, 10 ** 6, 20))  # every reading of the clock 20 s later than the one before
    monkeypatch.setattr(training.time, "monotonic", lambda: next(clock))
    training.train("pattern-1010", steps=300, out=tmp_path / "b", progress=False, checkpoint_minutes=1)
    assert saved[:3] == [3, 6, 9] and saved[-1] == 300  # 60 s: every third step's reading of the clock
    assert metrics["checkpoint_writes"] == 1 and metrics["checkpoint_bytes"] == (tmp_path / "a/checkpoint.npz").stat().st_size


def test_grad_stats_and_a_cuda_graph_do_not_go_together():
    with pytest.raises(ValueError, match="use one or the other"):
        training.train("mnist-gan", device="cuda", cuda_graph=True, grad_stats_every=1, steps=1, progress=False)


def test_generate_offers_every_seed_arithmetic_it_knows():
    import argparse
    from gans.generate import SEED_ARITHMETIC
    parser = cli.build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    choices = next(a.choices for a in commands["generate"]._actions if a.dest == "seed_arithmetic")
    assert list(choices) == list(SEED_ARITHMETIC)


def test_a_resume_keeps_this_runs_optimiser_execution_settings(tmp_path):
    """A checkpoint from a --cuda-graph run (capturable Adam) resumes into a plain run, and back."""
    import minigrad
    model = minigrad.nn.Linear(3, 2)
    saved_with = minigrad.optim.Adam(model.parameters(), capturable=True)
    model(minigrad.ones(3)).sum().backward()
    saved_with.step()
    checkpoint.save(tmp_path / "c.npz", {"m": model}, {"m": saved_with}, {"step": 1, "config": {}, "rng": None},
                    training.Engine("minigrad"))
    meta, arrays = checkpoint.load(tmp_path / "c.npz")
    resumed = minigrad.optim.Adam(model.parameters(), lr=0.5)
    checkpoint.restore(meta, arrays, {"m": model}, {"m": resumed}, training.Engine("minigrad"))
    assert resumed.param_groups[0]["capturable"] is False
    assert resumed.param_groups[0]["lr"] == 0.001  # the training settings do come from the checkpoint


def test_losses_on_disk_reach_every_checkpoint(tmp_path, monkeypatch):
    """A run killed after a checkpoint resumes with every loss row up to it (the log is flushed)."""
    seen = []
    save = training.CheckpointSaver.save

    def save_and_read(self, step):
        save(self, step)
        with open(self.run.path("losses.csv")) as f:
            seen.append((step, int(list(csv.DictReader(f))[-1]["step"])))
    monkeypatch.setattr(training.CheckpointSaver, "save", save_and_read)
    training.train("pattern-1010", steps=400, out=tmp_path, progress=False, checkpoint_every=100)
    assert seen and all(step == last_row for step, last_row in seen), seen
