"""Regenerate the pictures of ``docs/inside-autograd.md`` into ``docs/images/``.

    python docs/make_images.py            # about a minute on a laptop

Graphs are drawn with matplotlib (what a bare ``pip install`` has), training runs go to
``runs/docs/``.
"""
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import minigrad as torch  # noqa: E402
from gans import grad_stats, graph, training  # noqa: E402

IMAGES = ROOT / "docs" / "images"
RUNS = ROOT / "runs" / "docs"


def chapter_one_graphs():
    x = torch.tensor(3.5, requires_grad=True)
    y = (x - 1) * (x - 2) * (x - 3)
    with torch.trace() as t:
        y.backward()
    torch.viz.draw(y, IMAGES / "ch01-first-graph.png", values=True, params={"x": x, "y": y}, trace=t,
                   renderer="matplotlib")

    a = torch.tensor(2.0, requires_grad=True)
    b = torch.tensor(1.0, requires_grad=True)
    x = 2 * a + 3 * b
    y = 5 * a * a + 3 * b * b * b
    z = 2 * x + 3 * y
    with torch.trace() as t:
        z.backward()
    torch.viz.draw(z, IMAGES / "ch01-diamond-graph.png", values=True, trace=t,
                   params={"a": a, "b": b, "x": x, "y": y, "z": z}, renderer="matplotlib")


def double_backward_graph():
    """dy/dx of chapter 1's cubic, taken with create_graph=True: the backward pass as a graph."""
    x = torch.tensor(3.5, requires_grad=True)
    y = (x - 1) * (x - 2) * (x - 3)
    dy_dx, = torch.autograd.grad(y, x, create_graph=True)
    with torch.trace() as t:
        dy_dx.backward()
    torch.viz.draw(dy_dx, IMAGES / "double-backward-graph.png", values=True, params={"x": x, "dy/dx": dy_dx},
                   trace=t, renderer="matplotlib")


def training_step_graphs():
    graph.draw_training_step("mnist-cgan", IMAGES / "mnist-cgan-graph.png", renderer="matplotlib")


def classifier_gradients(limit=5000):
    runs = {}
    for name, label in (("classifier", "ch. 2: Sigmoid, MSE, SGD"),
                        ("classifier-refined", "ch. 3: LeakyReLU, LayerNorm, BCE, Adam")):
        metrics = training.train(name, limit=limit, epochs=1, out=RUNS / name, progress=False,
                                 checkpoint_every=limit, grad_stats_every=50)
        print(f"{name}: test accuracy {metrics['test_accuracy']:.1%}")
        runs[label] = RUNS / name / "grad_stats.csv"
    grad_stats.plot(IMAGES / "classifier-grad-stats.png", runs, "MNIST classifier: chapter 2 vs chapter 3")
    for label, path in runs.items():
        grads = grad_stats.read(path)[("classifier", "0 (Linear)")][1]
        print(f"{label}: first layer's mean gradient norm {np.mean(grads):.2e}")


def gan_gradients(limit=5000):
    training.train("mnist-gan", limit=limit, epochs=1, out=RUNS / "mnist-gan", progress=False,
                   checkpoint_every=limit, grad_stats_every=50, eval_samples=0)
    grad_stats.plot(IMAGES / "mnist-gan-grad-stats.png", {"": RUNS / "mnist-gan" / "grad_stats.csv"},
                    "MNIST GAN: discriminator and generator")


if __name__ == "__main__":
    IMAGES.mkdir(parents=True, exist_ok=True)
    chapter_one_graphs()
    double_backward_graph()
    training_step_graphs()
    classifier_gradients()
    gan_gradients()
    print(f"pictures in {IMAGES}")
