"""``python -m minigrad``: a one-minute demo that trains a small network with minigrad alone.

It learns to tell two interleaved half-moons apart, printing the loss as it falls and
the accuracy at the end, and shows the graph of the last loss.
"""
import math
import time

import numpy as np

import minigrad
import minigrad.nn as nn


def two_moons(n, rng):
    t = rng.random(n) * math.pi
    upper = rng.random(n) < 0.5
    x = np.where(upper, np.cos(t), 1 - np.cos(t))
    y = np.where(upper, np.sin(t), 0.5 - np.sin(t))
    points = np.stack([x, y], axis=1) + rng.normal(0, 0.1, (n, 2))
    return points.astype(np.float32), upper.astype(np.float32)[:, None]


def main():
    minigrad.manual_seed(0)
    points, labels = two_moons(512, np.random.default_rng(0))
    x, y = minigrad.tensor(points), minigrad.tensor(labels)
    model = nn.Sequential(nn.Linear(2, 32), nn.LeakyReLU(0.02), nn.LayerNorm(32), nn.Linear(32, 1), nn.Sigmoid())
    optimiser = minigrad.optim.Adam(model.parameters(), lr=0.01)
    print(model)
    start = time.perf_counter()
    for step in range(1, 301):
        loss = nn.BCELoss()(model(x), y)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if step % 50 == 0:
            print(f"step {step:3d}  loss {loss.item():.4f}")
    with minigrad.no_grad():
        accuracy = ((model(x) > 0.5).numpy() == (y > 0.5).numpy()).mean()
    print(f"accuracy {accuracy:.1%} on two moons, {time.perf_counter() - start:.1f} s, minigrad {minigrad.__version__}")
    attached = len(minigrad.accel.replacements())
    kept = ", glibc keeps freed memory for reuse" if minigrad.accel.memory.APPLIED else ""
    print(f"speed machinery (minigrad.accel): {attached} replacement(s) attached{kept}; MINIGRAD_ACCEL=0 runs the plain "
          "engine" if minigrad.accel.ENABLED else "the plain engine: minigrad.accel is off (MINIGRAD_ACCEL=0)")


if __name__ == "__main__":
    main()
