"""The book's MNIST GAN with a gradient penalty on the discriminator, as WGAN-GP adds one:
λ·(‖∇ₓD(x̂)‖ − 1)² at points x̂ between a real and a generated image.  The penalty needs the
gradient of D *with respect to its input* inside the loss, so the backward pass that makes
it must itself be differentiable: ``torch.autograd.grad(..., create_graph=True)``.

Written for PyTorch; it runs on minigrad because of the imports below, and
``tests/test_examples.py`` runs the same file with ``import torch`` and compares every loss.

    python examples/autograd/gradient_penalty.py [--steps 300]
"""
import argparse

import numpy as np

import minigrad as torch
import minigrad.nn as nn
from gans.options import add_threads_argument
from gans.threads import use_threads

PENALTY = 10.0  # λ, as in the WGAN-GP paper


def book_discriminator():
    return nn.Sequential(nn.Linear(784, 200), nn.LeakyReLU(0.02), nn.LayerNorm(200),
                         nn.Linear(200, 1), nn.Sigmoid())


def book_generator():
    return nn.Sequential(nn.Linear(100, 200), nn.LeakyReLU(0.02), nn.LayerNorm(200),
                         nn.Linear(200, 784), nn.Sigmoid())


def same_start(model, rng):
    """Weights drawn by NumPy, so that every engine starts from the same numbers."""
    with torch.no_grad():
        for p in model.parameters():
            bound = 1 / np.sqrt(p.shape[-1])
            p.copy_(torch.tensor(rng.uniform(-bound, bound, tuple(p.shape))))


def gradient_penalty(D, real, fake, epsilon):
    """λ·(‖∇D(x̂)‖ − 1)² with x̂ = ε·real + (1 − ε)·fake."""
    between = (epsilon * real + (1 - epsilon) * fake).requires_grad_(True)
    grad, = torch.autograd.grad(D(between).sum(), between, create_graph=True)
    return PENALTY * (grad.pow(2).sum().sqrt() - 1) ** 2


def train(steps=300, seed=0, dtype=torch.float64):
    from gans.data.mnist import load_mnist_subset
    images = load_mnist_subset("train").images.reshape(-1, 784) / 255.0
    rng = np.random.default_rng(seed)
    D, G = book_discriminator().to(dtype), book_generator().to(dtype)
    same_start(D, rng)
    same_start(G, rng)
    optimise_D, optimise_G = torch.optim.Adam(D.parameters(), lr=1e-4), torch.optim.Adam(G.parameters(), lr=1e-4)
    bce = nn.BCELoss()
    one, zero = torch.tensor([1.0], dtype=dtype), torch.tensor([0.0], dtype=dtype)
    history = []
    for step in range(steps):
        real = torch.tensor(images[rng.integers(len(images))], dtype=dtype)
        noise = torch.tensor(rng.standard_normal(100), dtype=dtype)
        epsilon = float(rng.uniform())
        # the discriminator: real is 1, generated is 0, and its gradient has norm 1 between them
        fake = G(noise).detach()
        penalty = gradient_penalty(D, real, fake, epsilon)
        loss_D = bce(D(real), one) + bce(D(fake), zero) + penalty
        optimise_D.zero_grad()
        loss_D.backward()
        optimise_D.step()
        # the generator, as in the book: make D call its images real
        loss_G = bce(D(G(noise)), one)
        optimise_G.zero_grad()
        loss_G.backward()
        optimise_G.step()
        history.append((loss_D.item(), penalty.item(), loss_G.item()))
    return history


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=300)
    add_threads_argument(parser)
    args = parser.parse_args(argv)
    use_threads(args.threads)
    history = train(args.steps)
    for step in range(0, len(history), max(len(history) // 10, 1)):
        loss_D, penalty, loss_G = history[step]
        print(f"step {step:4d}  D loss {loss_D:.4f} (penalty {penalty:.4f})  G loss {loss_G:.4f}")
    return history


if __name__ == "__main__":
    main()
