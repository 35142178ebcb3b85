"""The book's appendix demonstrations, each drawing its figure.

Appendix B: a GAN learns a probability distribution.  Here the distribution is a grid
of pixel probabilities (how often each pixel of one digit class is dark), and images are
drawn from it pixel by pixel: they match the grid on average but look nothing like real
digits, because the pixels of a real digit are not independent.  That is what a
generator must learn beyond single-pixel likelihoods.

Appendix D: gradient descent on the adversarial game f(x, y) = x·y, where x descends and
y ascends.  The gradients are computed by minigrad; the updates circle the equilibrium
(0, 0) and drift outwards instead of converging, the book's picture of unstable GAN
training.
"""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import minigrad  # noqa: E402

from . import data as D  # noqa: E402
from .plots import _save, tile  # noqa: E402


def pixel_probability_samples(digit=3, count=8, seed=0, data_path=None):
    """The probability grid of ``digit`` (from MNIST) and ``count`` images drawn from it."""
    mnist = D.load_mnist("train", data_path)
    grid = (mnist.images[mnist.labels == digit] > 127).mean(axis=0)
    rng = np.random.default_rng(seed)
    drawn = (rng.random((count,) + grid.shape) < grid).astype(np.float64)
    return grid, drawn


def appendix_b(out, digit=3, seed=0, data_path=None):
    grid, drawn = pixel_probability_samples(digit, 8, seed, data_path)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.2), gridspec_kw={"width_ratios": [1, 4]})
    left.imshow(grid, cmap="Blues", vmin=0, vmax=1)
    left.set_title(f"P(pixel dark), digit {digit}")
    right.imshow(1 - tile(drawn, 2, 4), cmap="gray", vmin=0, vmax=1, interpolation="none")
    right.set_title("images drawn pixel by pixel from that grid")
    for ax in (left, right):
        ax.axis("off")
    _save(fig, out)
    return grid, drawn


def adversarial_gradient_descent(x0=0.6, y0=0.7, lr=0.1, steps=100):
    """Simultaneous gradient steps on f = x·y: x ← x − lr·∂f/∂x, y ← y + lr·∂f/∂y.

    Each step multiplies the distance from (0, 0) by √(1 + lr²), so the path spirals out.
    """
    x = minigrad.tensor(x0, dtype=minigrad.float64, requires_grad=True)
    y = minigrad.tensor(y0, dtype=minigrad.float64, requires_grad=True)
    path = [(x0, y0)]
    for _ in range(steps):
        x.grad = y.grad = None
        f = x * y
        f.backward()
        with minigrad.no_grad():
            x_new, y_new = x.item() - lr * x.grad.item(), y.item() + lr * y.grad.item()
        x.data, y.data = minigrad.tensor(x_new, dtype=minigrad.float64), minigrad.tensor(y_new, dtype=minigrad.float64)
        path.append((x_new, y_new))
    return np.array(path)


def appendix_d(out, steps=100):
    path = adversarial_gradient_descent(steps=steps)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot(path[:, 0], path[:, 1], ".-", alpha=0.6)
    ax.plot(*path[0], "go", label="start (0.6, 0.7)")
    ax.plot(0, 0, "r+", markersize=12, label="equilibrium (0, 0)")
    ax.set_xlabel("x (minimises x·y)")
    ax.set_ylabel("y (maximises x·y)")
    ax.set_title(f"gradient descent on x·y, lr 0.1, {steps} steps")
    ax.legend()
    ax.set_aspect("equal")
    ax.grid(True)
    _save(fig, out)
    return path
