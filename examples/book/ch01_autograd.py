"""Chapter 1, PyTorch basics: tensors, automatic gradients, computation graphs — on minigrad.

The book's code with one change: ``import torch`` became ``import minigrad as torch``.
Each of the chapter's three graphs is then drawn with its gradients (``minigrad.viz``),
and the order in which ``backward()`` visited its nodes is printed (``minigrad.trace``).

    python examples/book/ch01_autograd.py [--quick] [--out runs/book/ch01]
"""
import argparse
from pathlib import Path

import minigrad as torch
from gans.options import add_threads_argument
from gans.threads import use_threads


def simple_tensors():
    # a simple tensor, then one that asks for gradients
    x = torch.tensor(3.5)
    print(x)
    y = x + 3
    print(y)
    x = torch.tensor(3.5, requires_grad=True)
    print(x)
    y = (x - 1) * (x - 2) * (x - 3)
    print(y)
    return x, y


def first_graph():
    # y = (x-1)(x-2)(x-3): dy/dx = 3x² - 12x + 11 = 5.75 at x = 3.5
    x = torch.tensor(3.5, requires_grad=True)
    y = (x - 1) * (x - 2) * (x - 3)
    with torch.trace(params={"x": x}) as t:
        y.backward()
    print("x.grad =", x.grad)
    return x.grad.item(), {"x": x, "y": y}, y, t


def chained_graph():
    # x → y = x² → z = 2y + 3: dz/dx = dz/dy · dy/dx = 2 · 2x = 14 at x = 3.5
    x = torch.tensor(3.5, requires_grad=True)
    y = x * x
    z = 2 * y + 3
    with torch.trace(params={"x": x, "y": y}) as t:
        z.backward()
    print("x.grad =", x.grad)
    return x.grad.item(), {"x": x, "y": y, "z": z}, z, t


def diamond_graph():
    # a and b each reach z along two paths (through x and through y); the gradients add up
    a = torch.tensor(2.0, requires_grad=True)
    b = torch.tensor(1.0, requires_grad=True)
    x = 2 * a + 3 * b
    y = 5 * a * a + 3 * b * b * b
    z = 2 * x + 3 * y
    with torch.trace(params={"a": a, "b": b, "x": x, "y": y}) as t:
        z.backward()
    print("a.grad =", a.grad)  # 2·2 + 3·10a = 64
    print("b.grad =", b.grad)  # 2·3 + 3·9b² = 33
    return (a.grad.item(), b.grad.item()), {"a": a, "b": b, "x": x, "y": y, "z": z}, z, t


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="(this chapter is quick anyway)")
    parser.add_argument("--out", default="runs/book/ch01", help="folder for the graph pictures")
    add_threads_argument(parser)
    args = parser.parse_args(argv)
    use_threads(args.threads)
    out = Path(args.out)

    simple_tensors()
    results = {}
    for name, experiment in (("first", first_graph), ("chained", chained_graph), ("diamond", diamond_graph)):
        print(f"\n--- the {name} graph ---")
        grads, names, root, trace = experiment()
        trace.table()
        torch.viz.draw(root, out / f"ch01_{name}_graph.png", values=True, params=names, trace=trace)
        results[name] = grads
    print(f"\ngraphs drawn in {out}/")
    return results


if __name__ == "__main__":
    main()
