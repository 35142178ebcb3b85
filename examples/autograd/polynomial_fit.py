"""Fit y = sin(x) with a cubic, four ways, as PyTorch's "Learning PyTorch with Examples" does:
tensors with autograd and a hand-written update, a custom autograd Function, then ``nn`` and
``optim``.  Written for PyTorch; it runs on minigrad because of the import below, and
``tests/test_examples.py`` runs the same file with ``import torch`` and compares every number.

    python examples/autograd/polynomial_fit.py
"""
import math

import minigrad as torch

STEPS, LEARNING_RATE = 2000, 1e-6
dtype = torch.float64


def data():
    x = torch.linspace(-math.pi, math.pi, 2000, dtype=dtype)
    return x, torch.sin(x)


def with_autograd():
    """y ≈ a + b·x + c·x² + d·x³; the update by hand, outside the graph."""
    x, y = data()
    a, b, c, d = (torch.tensor(start, dtype=dtype, requires_grad=True) for start in (0.1, -0.2, 0.3, -0.05))
    for step in range(STEPS):
        y_pred = a + b * x + c * x ** 2 + d * x ** 3
        loss = (y_pred - y).pow(2).sum()
        loss.backward()
        with torch.no_grad():      # p -= lr·grad: in place, so the tensors themselves move
            for p in (a, b, c, d):
                p -= LEARNING_RATE * p.grad
                p.grad = None
    return [p.item() for p in (a, b, c, d)] + [loss.item()]


class LegendrePolynomial3(torch.autograd.Function):
    """P₃(x) = ½(5x³ − 3x), with its derivative written by hand: 1.5·(5x² − 1)."""

    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return 0.5 * (5 * input ** 3 - 3 * input)

    @staticmethod
    def backward(ctx, grad_output):
        input, = ctx.saved_tensors
        return grad_output * 1.5 * (5 * input ** 2 - 1)


def with_custom_function():
    """y ≈ a + b·P₃(c + d·x), P₃ a custom Function."""
    x, y = data()
    a, b, c, d = (torch.tensor(start, dtype=dtype, requires_grad=True) for start in (0.0, -1.0, 0.0, 0.3))
    for step in range(STEPS):
        y_pred = a + b * LegendrePolynomial3.apply(c + d * x)
        loss = (y_pred - y).pow(2).sum()
        loss.backward()
        with torch.no_grad():
            for p in (a, b, c, d):
                p -= 5e-6 * p.grad
                p.grad = None
    return [p.item() for p in (a, b, c, d)] + [loss.item()]


def with_nn_and_optim(optimiser_name):
    """The same cubic as a Linear layer on (x, x², x³), trained by an optimiser."""
    x, y = data()
    p = torch.tensor([1, 2, 3])
    xx = x.unsqueeze(-1).pow(p)
    model = torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Flatten(0, 1)).to(dtype)
    with torch.no_grad():          # the same start on every engine
        model[0].weight.copy_(torch.tensor([[0.2, -0.1, 0.05]]))
        model[0].bias.fill_(0.1)
    loss_fn = torch.nn.MSELoss(reduction="sum")
    if optimiser_name == "sgd":
        optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE, momentum=0.9)
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for step in range(STEPS):
        loss = loss_fn(model(xx), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    linear = model[0]
    return [linear.bias.item()] + linear.weight.detach().reshape(-1).tolist() + [loss.item()]


def main():
    results = {"autograd": with_autograd(), "custom Function": with_custom_function(),
               "nn + SGD": with_nn_and_optim("sgd"), "nn + Adam": with_nn_and_optim("adam")}
    for name, numbers in results.items():
        *coefficients, loss = numbers
        print(f"{name:16} loss {loss:10.4f}   coefficients " + "  ".join(f"{v:+.5f}" for v in coefficients))
    return results


if __name__ == "__main__":
    main()
