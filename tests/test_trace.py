"""Watching backward: the trace of ``backward()`` (order, shapes, gradient norms) and the
per-layer gradient statistics of ``gans train --grad-stats``."""
import csv
import io
import math

import numpy as np
import pytest

import minigrad
import minigrad.nn as nn
from minigrad import autograd


def diamond():
    a = minigrad.tensor(2.0, requires_grad=True)
    b = minigrad.tensor(1.0, requires_grad=True)
    x = 2 * a + 3 * b
    y = 5 * a * a + 3 * b * b * b
    return a, b, 2 * x + 3 * y


def mlp_loss():
    minigrad.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 5), nn.LeakyReLU(0.02), nn.LayerNorm(5), nn.Linear(5, 3), nn.Sigmoid())
    loss = nn.BCELoss()(model(minigrad.rand(4, 6)), minigrad.rand(4, 3))
    return model, loss


def assert_reverse_topological(steps):
    """Every op's turn comes after the turns of all ops that used its output."""
    position = {id(s.fn): i for i, s in enumerate(steps)}
    for s in steps:
        for t in s.fn.inputs:
            producer = getattr(t, "grad_fn", None)
            if producer is not None:
                assert position[id(producer)] > position[id(s.fn)], (s.op, producer.name())


@pytest.mark.parametrize("make", [diamond, mlp_loss])
def test_trace_order_is_a_reverse_topological_order_of_every_op(make):
    root = make()[-1]
    graph = minigrad.viz.graph(root)
    with minigrad.trace() as t:
        root.backward()
    assert len(t) == len(graph.ops)
    assert [s.index for s in t] == list(range(1, len(t) + 1))
    assert_reverse_topological(t.steps)
    assert t.steps[0].fn is root.grad_fn  # backward starts at the loss


def test_trace_records_shapes_and_gradient_norms():
    model, loss = mlp_loss()
    with minigrad.trace(params=model) as t:
        loss.backward()
    first = t.steps[0]
    assert first.op == "BCELossBackward" and first.output_shape == () and first.grad_norm == 1.0
    assert first.input_shapes == ((4, 3), (4, 3)) and first.input_grad_norms[1] is None  # the target
    last_linear = [s for s in t if s.op == "LinearBackward"][-1]  # the first layer, reached last
    assert last_linear.inputs == ("input", "0.weight", "0.bias")
    assert last_linear.input_shapes == ((4, 6), (5, 6), (5,))
    assert last_linear.input_grad_norms[0] is None  # the data needs no gradient
    weight = dict(model.named_parameters())["0.weight"]
    assert last_linear.input_grad_norms[1] == pytest.approx(float(np.linalg.norm(weight.grad.numpy())), rel=1e-5)
    for s in t:  # the gradient an op receives has its output's shape
        assert tuple(np.shape(s.grad)) == s.output_shape
        assert s.grad_norm == pytest.approx(float(np.linalg.norm(np.asarray(s.grad, dtype=np.float64))))


def test_broadcast_gradients_are_summed_to_the_input_shape():
    x = minigrad.rand(4, 3, requires_grad=True)
    b = minigrad.rand(3, requires_grad=True)
    with minigrad.trace() as t:
        (x + b).sum().backward()
    add = [s for s in t if s.op == "AddBackward"][0]
    assert add.input_grads[1].shape == (3,)
    assert add.input_grad_norms[1] == pytest.approx(float(np.linalg.norm(b.grad.numpy())))


def test_table_lists_every_step():
    model, loss = mlp_loss()
    with minigrad.trace(params=model) as t:
        loss.backward()
    printed = io.StringIO()
    assert t.table(file=printed) is None  # printed once, not echoed again by a REPL
    text = printed.getvalue().rstrip("\n")
    lines = text.splitlines()
    assert len(lines) == len(t) + 1 and "‖grad in‖" in lines[0]
    assert "LayerNormBackward" in text and "2.weight[5]:" in text and "input[4, 6]: –" in text
    assert repr(t) == f"<trace: {len(t)} backward steps>"


def test_to_dataframe_needs_pandas():
    a, b, z = diamond()
    with minigrad.trace() as t:
        z.backward()
    try:
        import pandas  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pandas"):
            t.to_dataframe()
    else:
        frame = t.to_dataframe()
        assert len(frame) == len(t) and {"op", "grad_norm", "input_grad_norms"} <= set(frame.columns)


def test_trace_is_switched_off_after_the_block_and_nests():
    assert autograd.engine._tracer is None
    a, b, z = diamond()
    with minigrad.trace() as outer:
        with minigrad.trace() as inner:
            z.backward(retain_graph=True)
        assert autograd.engine._tracer is outer
        z.backward(retain_graph=True)
    assert autograd.engine._tracer is None
    z.backward()
    assert len(inner) == len(outer) == 12
    with pytest.raises(ZeroDivisionError):  # an error inside still switches the trace off
        with minigrad.trace():
            1 / 0
    assert autograd.engine._tracer is None


# --- gans train --grad-stats ------------------------------------------------------------------

def read_rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_classifier_grad_stats(tmp_path):
    from gans import training
    training.train("classifier", limit=30, steps=30, out=tmp_path, progress=False, grad_stats_every=10)
    rows = read_rows(tmp_path / "grad_stats.csv")
    assert [(r["step"], r["part"], r["layer"]) for r in rows] == [
        (str(s), "classifier", layer) for s in (10, 20, 30) for layer in ("0 (Linear)", "2 (Linear)")]
    for r in rows:
        assert 0 < float(r["grad_norm"]) < math.inf and float(r["weight_norm"]) > 1
    assert (tmp_path / "grad_stats.png").stat().st_size > 10_000


def test_gan_grad_stats_keep_d_and_g_apart(tmp_path):
    """D's row is its own update (the fake example), not D's .grad after G's backward added to it."""
    from gans import experiments, grad_stats, training
    experiment, e, m = training.build("pattern-1010")
    stats = grad_stats.GradStats(tmp_path, m, e, every=1)
    data = training.load_data(experiment)
    constants = experiment.constants(e)
    for step, batch in experiment.stream(data, np.random.default_rng(0), 0, 3):
        stats.begin(step + 1)
        experiment.step(m, e, experiment.tensors(e, batch), constants)
        stats.end(step + 1)
    stats.close()
    rows = read_rows(tmp_path / "grad_stats.csv")
    assert {(r["part"], r["layer"]) for r in rows} == {
        (p, layer) for p in ("D", "G") for layer in ("0 (Linear)", "2 (Linear)")}
    last = {(r["part"], r["layer"]): float(r["grad_norm"]) for r in rows if r["step"] == "3"}
    after_step = {(part, layer): math.sqrt(sum(float(np.sum(p.grad.numpy() ** 2)) for p in params))
                  for part, trainable in m.parts.items()
                  for layer, params in grad_stats.layers_of(trainable.model)}
    for layer in ("0 (Linear)", "2 (Linear)"):
        assert last[("G", layer)] == pytest.approx(after_step[("G", layer)], rel=1e-5)
        assert last[("D", layer)] != pytest.approx(after_step[("D", layer)], rel=1e-3)
    assert experiments.get("pattern-1010").is_gan


def test_cli_grad_stats_defaults_to_the_log_interval(tmp_path, capsys):
    from gans import cli
    out = tmp_path / "run"
    assert cli.main(["train", "pattern-1010", "--epochs", "1", "--log-every", "250", "--grad-stats", "--quiet",
                     "--out", str(out)]) == 0
    steps = sorted({int(r["step"]) for r in read_rows(out / "grad_stats.csv")})
    assert steps == [250, 500, 750, 1000]
    assert (out / "grad_stats.png").exists()


def test_grad_stats_on_torch_and_resume(tmp_path):
    pytest.importorskip("torch")
    from gans import training
    training.train("pattern-1010", "torch", steps=20, out=tmp_path, progress=False, grad_stats_every=5,
                   stop_after=10)
    training.train("pattern-1010", "torch", steps=20, out=tmp_path, progress=False, grad_stats_every=5,
                   resume=True)
    steps = [int(r["step"]) for r in read_rows(tmp_path / "grad_stats.csv") if r["part"] == "D"]
    assert steps == [5, 5, 10, 10, 15, 15, 20, 20]  # two layers each; rows after the checkpoint redone once


def test_grad_stats_comparison_plot(tmp_path):
    from gans import grad_stats, training
    for name in ("classifier", "classifier-refined"):
        training.train(name, limit=20, steps=20, out=tmp_path / name, progress=False, grad_stats_every=10)
    runs = {name: tmp_path / name / "grad_stats.csv" for name in ("classifier", "classifier-refined")}
    grad_stats.plot(tmp_path / "both.png", runs, "chapter 2 vs 3")
    assert (tmp_path / "both.png").stat().st_size > 10_000
    series = grad_stats.read(runs["classifier-refined"])
    assert ("classifier", "2 (LayerNorm)") in series and len(series[("classifier", "0 (Linear)")][0]) == 2
