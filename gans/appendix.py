"""The book's appendix demonstrations, each drawing its figure.

Appendix B: a GAN learns a probability distribution.  The book's example is a 3×3 grid:
how often each pixel was dark in 8 images, as probabilities, and new images drawn from
them pixel by pixel.  This project adds the same with MNIST (how often each pixel of one
digit class is dark): the drawn images match the grid on average but look nothing like
real digits, because the pixels of a real digit are not independent.  That is what a
generator must learn beyond single-pixel likelihoods.

Appendix D: gradient steps on the adversarial game f(x, y) = x·y, as the book's notebook
takes them: x ascends (x ← x + lr·y), y descends (y ← y − lr·x), from (0.6, 0.7) with
lr 0.1 for 199 steps.  The gradients are computed by minigrad; x and y oscillate with a
growing amplitude, circling the equilibrium (0, 0) and drifting outwards instead of
converging, the book's picture of unstable GAN training.
"""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import minigrad  # noqa: E402

from .data import load_mnist  # noqa: E402
from .images import make_grid  # noqa: E402
from .plots import _save  # noqa: E402


BOOK_COUNTS = np.array([[6, 0, 1], [0, 7, 0], [2, 0, 1]])  # dark pixels at each position, in 8 images


def book_grid_samples(count=24, seed=0):
    """The book's 3×3 probabilities (BOOK_COUNTS / 8) and ``count`` images drawn from them: a
    pixel is dark where a uniform number falls below its probability (the book's
    ``numpy.ceil(probabilities - uniform)``)."""
    probabilities = BOOK_COUNTS / 8
    rng = np.random.default_rng(seed)
    return probabilities, (rng.random((count,) + probabilities.shape) < probabilities).astype(np.float64)


def pixel_probability_samples(digit=3, count=8, seed=0, data_path=None):
    """The probability grid of ``digit`` (from MNIST) and ``count`` images drawn from it."""
    mnist = load_mnist("train", data_path)
    grid = (mnist.images[mnist.labels == digit] > 127).mean(axis=0)
    rng = np.random.default_rng(seed)
    drawn = (rng.random((count,) + grid.shape) < grid).astype(np.float64)
    return grid, drawn


def appendix_b(out, digit=3, seed=0, data_path=None):
    """Draw :func:`appendix_b_figure` to ``out``; returns the MNIST grid and the images drawn from it."""
    probabilities, book_drawn = book_grid_samples(24, seed)
    grid, drawn = pixel_probability_samples(digit, 8, seed, data_path)
    _save(appendix_b_figure(probabilities, book_drawn, grid, drawn, digit), out)
    return grid, drawn


def appendix_b_figure(probabilities, book_drawn, grid, drawn, digit):
    """Top: the book's 3×3 probabilities (each square with its count of 8) and 24 images drawn
    from them, 4 rows of 6 as the book shows them.  Bottom: one MNIST digit's pixel
    probabilities and 8 images drawn from them.  Each probability grid has its colour bar."""
    fig = plt.figure(figsize=(10, 7))
    rows = fig.add_gridspec(2, 2, width_ratios=[1.3, 4])
    book_grid = fig.add_subplot(rows[0, 0])
    shown = book_grid.imshow(probabilities, cmap="Reds", vmin=0, vmax=1)
    for (i, j), p in np.ndenumerate(probabilities):
        book_grid.text(j, i, f"{round(p * 8)}/8", ha="center", va="center", fontsize=9,
                       color="white" if p > 0.5 else "black")
    fig.colorbar(shown, ax=book_grid, fraction=0.046, pad=0.04, label="P(pixel dark)")
    book_grid.set_title("the book's P(pixel dark)")
    samples = rows[0, 1].subgridspec(4, 6, wspace=0.15, hspace=0.15)
    for i, image in enumerate(book_drawn):
        ax = fig.add_subplot(samples[divmod(i, 6)])
        ax.imshow(image, cmap="Blues", vmin=0, vmax=1, interpolation="none")
        ax.set_xticks([]), ax.set_yticks([])
        if i == 2:
            ax.set_title("24 images drawn pixel by pixel from it", loc="left")
    digit_grid, digit_images = fig.add_subplot(rows[1, 0]), fig.add_subplot(rows[1, 1])
    shown = digit_grid.imshow(grid, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(shown, ax=digit_grid, fraction=0.046, pad=0.04, label="P(pixel dark)")
    digit_grid.set_title(f"P(pixel dark), MNIST digit {digit}")
    # light blue lines between the images, whose background is white
    digit_images.imshow(make_grid(drawn, nrow=4, padding=2, pad_value=0.3), cmap="Blues", vmin=0, vmax=1,
                        interpolation="none")
    digit_images.set_title("images drawn pixel by pixel from that grid")
    for ax in (book_grid, digit_grid, digit_images):
        ax.set_xticks([]), ax.set_yticks([])
    digit_images.axis("off")
    return fig


def adversarial_gradient_descent(x0=0.6, y0=0.7, lr=0.1, steps=199):
    """Simultaneous gradient steps on f = x·y: x ← x + lr·∂f/∂x (x maximises),
    y ← y − lr·∂f/∂y (y minimises); the path, steps + 1 points.

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
            x_new, y_new = x.item() + lr * x.grad.item(), y.item() - lr * y.grad.item()
        x.data, y.data = minigrad.tensor(x_new, dtype=minigrad.float64), minigrad.tensor(y_new, dtype=minigrad.float64)
        path.append((x_new, y_new))
    return np.array(path)


def appendix_d(out, steps=199):
    """Draw :func:`appendix_d_figure` of the book's path to ``out``; returns the path."""
    path = adversarial_gradient_descent(steps=steps)
    _save(appendix_d_figure(path), out)
    return path


def appendix_d_figure(path, lr=0.1):
    """The book's chart (x and y against the step) beside the path in the (x, y) plane, whose
    legend sits below the plane, off the spiral."""
    steps = len(path) - 1
    fig, (values, plane) = plt.subplots(1, 2, figsize=(12, 5), gridspec_kw={"width_ratios": [3, 2]})
    values.plot(path[:, 0], label="x (maximises x·y)")
    values.plot(path[:, 1], label="y (minimises x·y)")
    values.set_xlabel("step")
    values.set_title(f"gradient steps on x·y, lr {lr}, {steps} steps")
    values.legend(loc="upper left")
    values.grid(True)
    plane.plot(path[:, 0], path[:, 1], ".-", alpha=0.6, label="the path")
    plane.plot(*path[0], "go", label=f"start ({path[0, 0]:g}, {path[0, 1]:g})")
    plane.plot(0, 0, "r+", markersize=12, label="equilibrium (0, 0)")
    plane.set_xlabel("x")
    plane.set_ylabel("y")
    plane.set_title("the same path in the (x, y) plane")
    plane.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3, fontsize=8)
    plane.set_aspect("equal")
    plane.grid(True)
    return fig
