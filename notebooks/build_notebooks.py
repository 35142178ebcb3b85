"""Write the chapter notebooks (``notebooks/chNN_*.ipynb``) from the cell sources below.

The notebooks are the files people open; this script is where they are edited, so that
their text stays reviewable in diffs and their outputs stay cleared.  Run it after a change:

    python notebooks/build_notebooks.py

Each notebook has one cell tagged ``parameters`` with its (small) defaults; the notebook's
metadata ``minigrad_gans.test_parameters`` holds smaller ones that ``tests/test_notebooks.py``
injects after that cell (papermill's convention) so the whole notebook runs in seconds.
"""
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent


def md(text):
    return new_markdown_cell(text.strip())


def code(text):
    return new_code_cell(text.strip())


def parameters(text):
    cell = new_code_cell(text.strip())
    cell.metadata["tags"] = ["parameters"]
    return cell


SETUP = '''
import minigrad
import minigrad as torch          # the book's `import torch`, as everywhere in this project
from IPython.display import Image
from gans import grad_stats, graph, training
from gans.threads import use_threads
use_threads(1)  # the same threads for NumPy's BLAS and PyTorch, as `gans bench --threads 1`: times compare
'''

NOTEBOOKS = {}

NOTEBOOKS["ch01_autograd"] = (None, [
    md('''
# Chapter 1 — PyTorch basics, on minigrad

The book's first chapter shows tensors, automatic gradients and computation graphs. Here the
same code runs on **minigrad**, this project's from-scratch autograd engine: the only change
is `import minigrad as torch`. Then we look inside: the graph that `backward()` walks, drawn
with its gradients (`minigrad.viz`), and the order in which `backward()` visits it
(`minigrad.trace`).
'''),
    code('''
import minigrad as torch

x = torch.tensor(3.5, requires_grad=True)
y = (x - 1) * (x - 2) * (x - 3)
y
'''),
    md('''
`y` remembers how it was made: its `grad_fn` is the last multiplication. `backward()` walks
from `y` back to `x` and applies the chain rule at each step: dy/dx = 3x² − 12x + 11 = 5.75.
'''),
    code('''
y.backward()
x.grad
'''),
    md('''
## The graph, and the gradient on every edge

`minigrad.viz.graph` collects the graph behind a tensor; in a notebook it draws itself.
Boxes are operations (named like PyTorch's `grad_fn`), ellipses are tensors: blue for
leaves that want a gradient, white for constants, green for the output. Recording the
backward pass with `torch.trace()` lets the picture label each edge with the gradient that
flowed back along it: the three paths from `y` to `x` carry 0.75, 1.25 and 3.75, and `x.grad`
is their sum.
'''),
    code('''
x = torch.tensor(3.5, requires_grad=True)
y = (x - 1) * (x - 2) * (x - 3)
with torch.trace(params={"x": x}) as t:
    y.backward()
torch.viz.graph(y, params={"x": x, "y": y}, values=True, trace=t)
'''),
    md('''
The trace lists the steps in the order `backward()` ran them — a reverse topological order:
an operation's turn comes only once every operation that used its output has sent its
gradient back.
'''),
    code('''
t.table();
'''),
    md('''
## A chain: x → y = x² → z = 2y + 3

dz/dx = dz/dy · dy/dx = 2 · 2x = 14. `y = x * x` uses `x` twice, so two arrows leave `x`,
each carrying 7.
'''),
    code('''
x = torch.tensor(3.5, requires_grad=True)
y = x * x
z = 2 * y + 3
with torch.trace() as t:
    z.backward()
print("x.grad =", x.grad)
torch.viz.graph(z, params={"x": x, "y": y, "z": z}, values=True, trace=t)
'''),
    md('''
## Two paths: a, b → x, y → z

`a` and `b` each reach `z` through `x` and through `y`; the gradients along the paths add up:
dz/da = 2·2 + 3·10a = 64 and dz/db = 2·3 + 3·9b² = 33.
'''),
    code('''
a = torch.tensor(2.0, requires_grad=True)
b = torch.tensor(1.0, requires_grad=True)
x = 2 * a + 3 * b
y = 5 * a * a + 3 * b * b * b
z = 2 * x + 3 * y
with torch.trace() as t:
    z.backward()
print("a.grad =", a.grad, " b.grad =", b.grad)
torch.viz.graph(z, params={"a": a, "b": b, "x": x, "y": y, "z": z}, values=True, trace=t)
'''),
    md('''
## The same with PyTorch

PyTorch gives the same numbers — minigrad is tested against it op by op.
'''),
    code('''
import torch as pytorch

a = pytorch.tensor(2.0, requires_grad=True)
b = pytorch.tensor(1.0, requires_grad=True)
z = 2 * (2 * a + 3 * b) + 3 * (5 * a * a + 3 * b * b * b)
z.backward()
a.grad, b.grad
'''),
    md('''
To save a picture: `torch.viz.draw(z, "graph.svg", values=True)` (SVG, PNG or PDF; through
Graphviz when its `dot` program is installed, through matplotlib otherwise).
'''),
])

NOTEBOOKS["ch02_classifier"] = ({"limit": 200}, [
    md('''
# Chapter 2 — the first neural network: an MNIST classifier

784 pixels → 200 Sigmoid → 10 Sigmoid, mean squared error, plain SGD with learning rate 0.01,
trained one image at a time: the book's network, here the `classifier` experiment of `gans`
(the same as `gans train classifier`), trained on minigrad. The book's own code, on minigrad
by swapping the import, is in `examples/book/ch02_mnist_classifier.py`.
'''),
    parameters('''
limit = 3000   # training images (the book: 60 000, 3 epochs)
'''),
    code(SETUP),
    code('''
metrics = training.train("classifier", limit=limit, epochs=1, out="runs/nb-ch02", overwrite=True,
                         checkpoint_every=limit, grad_stats_every=max(limit // 30, 1))
{k: metrics[k] for k in ("test_accuracy", "final_loss", "seconds_per_step", "data")}
'''),
    md('''
The loss, sampled every 10 images, in the book's style. This network learns slowly: after a
few thousand images it has barely started (the book gets 87% after 3 epochs of 60 000).
'''),
    code('''
Image("runs/nb-ch02/loss.png")
'''),
    code('''
Image("runs/nb-ch02/samples.png")   # the confusion matrix on the 1000 test digits
'''),
    md('''
## What one training step computes

The loss of one image, back to every parameter. Parameter names come from the module
(`classifier.0.weight` is the first `Linear`'s weight).
'''),
    code('''
loss, names = graph.training_step("classifier")
minigrad.viz.graph(loss, params=names)
'''),
    md('''
## Watching backward

The norm of the gradient each operation receives and passes on. Each `SigmoidBackward`
multiplies the gradient by σ'(x) ≤ 0.25, and the MSE loss of 10 sigmoid outputs starts small:
by the time the gradient reaches the first layer's weights it is tiny. Chapter 3 fixes that.
'''),
    code('''
with minigrad.trace(params=names) as t:
    loss.backward()
t.table();
'''),
    code('''
Image("runs/nb-ch02/grad_stats.png")   # per-layer gradient and weight norms during training
'''),
])

NOTEBOOKS["ch03_refinements"] = ({"limit": 200}, [
    md('''
# Chapter 3 — refinements, and why they help

The book improves the classifier four ways: LeakyReLU(0.02) instead of Sigmoid, LayerNorm,
binary cross-entropy instead of MSE, Adam instead of SGD. Accuracy jumps. Here we train both
networks with per-layer gradient statistics (`gans train ... --grad-stats`) to *see* why: with
Sigmoid and MSE the gradients reaching the weights nearly vanish; with the refinements they
flow.
'''),
    parameters('''
limit = 3000   # training images for each network
'''),
    code(SETUP),
    code('''
every = max(limit // 30, 1)
runs = {}
for name in ("classifier", "classifier-refined"):
    metrics = training.train(name, limit=limit, epochs=1, out=f"runs/nb-ch03/{name}", overwrite=True,
                             checkpoint_every=limit, grad_stats_every=every)
    runs[name] = f"runs/nb-ch03/{name}/grad_stats.csv"
    print(f"{name:20s} test accuracy {metrics['test_accuracy']:.1%}")
'''),
    md('''
Solid lines: chapter 2's network; dashed: the refined one. The top row is the norm of the
gradient each layer's weights received (log scale), the bottom row the norm of the weights.
'''),
    code('''
grad_stats.plot("runs/nb-ch03/comparison.png",
                {"ch. 2 Sigmoid+MSE+SGD": runs["classifier"], "ch. 3 refined": runs["classifier-refined"]})
Image("runs/nb-ch03/comparison.png")
'''),
    code('''
import numpy as np

for name, path in runs.items():
    series = grad_stats.read(path)
    steps, grads, weights = series[("classifier", "0 (Linear)")]
    print(f"{name:20s} first layer: mean gradient norm {np.mean(grads):.2e}, "
          f"weights {weights[0]:.1f} → {weights[-1]:.1f}")
'''),
    md('''
## One backward pass through each

The same image through both networks. Compare the gradient that reaches the first
`LinearBackward`: BCE's gradient does not shrink with a saturated sigmoid the way MSE's does,
and LeakyReLU passes the gradient on almost unchanged where Sigmoid multiplies it by ≤ 0.25.
Adam then rescales each weight's step, so even small gradients move the weights.
'''),
    code('''
for name in ("classifier", "classifier-refined"):
    loss, names = graph.training_step(name)
    with minigrad.trace(params=names) as t:
        loss.backward()
    print(name)
    t.table()
    print()
'''),
    md('''
Each refinement can be switched on alone: `gans train classifier --leaky-relu`, `--layer-norm`,
`--bce`, `--adam`, with `--grad-stats` to watch the gradients.
'''),
])

NOTEBOOKS["ch04_cuda"] = ({"size": 200}, [
    md('''
# Chapter 4 — CUDA

The book moves tensors to the GPU to multiply large matrices faster. minigrad does the same
through CuPy: every op is written once against an array module (`numpy` on the CPU, `cupy` on
the GPU). On a machine without a GPU the cells below run on the CPU only and say so.
'''),
    parameters('''
size = 2000   # matrices are size × size
'''),
    code('''
import time

import minigrad as torch

print("CUDA available:", torch.cuda.is_available())
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
device
'''),
    code('''
def time_matmul(device, repeats=3):
    a = torch.rand(size, size, device=device)
    b = torch.rand(size, size, device=device)
    (a @ b).sum().item()           # warm up
    started = time.perf_counter()
    for _ in range(repeats):
        (a @ b).sum().item()       # .item() waits for the GPU to finish
    return (time.perf_counter() - started) / repeats

cpu_seconds = time_matmul("cpu")
print(f"{size}×{size} matrix product on the CPU: {cpu_seconds * 1000:.1f} ms")
if torch.cuda.is_available():
    gpu_seconds = time_matmul("cuda")
    print(f"on {torch.cuda.get_device_name(0)}: {gpu_seconds * 1000:.1f} ms ({cpu_seconds / gpu_seconds:.0f}× faster)")
'''),
    code('''
print(torch.cuda.memory_summary(device, abbreviated=True))
'''),
    md('''
The book's way of making every new tensor a GPU tensor, `torch.set_default_tensor_type(torch.cuda.FloatTensor)`,
works too (and its modern forms `torch.set_default_device("cuda")`, `torch.set_default_dtype`).
`gans bench` times every book model on both engines and devices.
'''),
])

NOTEBOOKS["ch06_gan_1010"] = ({"epochs": 1}, [
    md('''
# Chapter 6 — the first GAN: learning the 1010 pattern

A discriminator (4 → 3 → 1, Sigmoid, MSE, SGD) learns to tell the pattern 1010 from the
generator's output; the generator (1 → 3 → 4) learns to fool it. When the generator has
learned the pattern the discriminator cannot tell: it answers 0.5 to everything and its MSE
loss settles at 0.25.
'''),
    parameters('''
epochs = 10   # 1000 training steps each (the book: 10 000 steps)
'''),
    code(SETUP),
    code('''
metrics = training.train("pattern-1010", epochs=epochs, out="runs/nb-ch06", overwrite=True,
                         checkpoint_every=1000 * epochs, grad_stats_every=100)
{k: v for k, v in metrics.items() if k.startswith("final_")}
'''),
    code('''
Image("runs/nb-ch06/loss.png")
'''),
    code('''
Image("runs/nb-ch06/samples.png")   # the generator's pattern
'''),
    md('''
## The generator's training step goes through the discriminator

G's loss is D's verdict on G's output, so the graph runs through both networks, and
backward reaches D's parameters too. Only G's optimiser uses this gradient: that is why
the book's `G.train` calls `self.optimiser.step()` and never D's.
'''),
    code('''
loss, names = graph.training_step("pattern-1010", "G")
with minigrad.trace(params=names) as t:
    loss.backward()
minigrad.viz.graph(loss, params=names, values=True, trace=t)
'''),
    md('''
Per-layer gradient norms during training, for D (its own update on a fake example) and for G.
'''),
    code('''
Image("runs/nb-ch06/grad_stats.png")
'''),
])

NOTEBOOKS["ch07_mnist_gan"] = ({"limit": 100}, [
    md('''
# Chapter 7 — a GAN that draws handwritten digits

The improved MNIST GAN: LeakyReLU, LayerNorm, BCE, Adam with learning rate 0.0001, and a seed
of 100 normal random numbers (`mnist-gan`). The book's first attempt, with Sigmoid, MSE, SGD
and one random number, collapses to a single image (`mnist-gan-first`). With the defaults
below the generator has just started; `gans train mnist-gan` (4 epochs) draws digits.
'''),
    parameters('''
limit = 3000   # training images, 1 epoch (the book: 60 000, 4 epochs)
'''),
    code(SETUP),
    code('''
metrics = training.train("mnist-gan", limit=limit, epochs=1, out="runs/nb-ch07", overwrite=True,
                         checkpoint_every=limit, grad_stats_every=max(limit // 30, 1), eval_samples=0)
{k: v for k, v in metrics.items() if k.startswith("final_")}
'''),
    code('''
Image("runs/nb-ch07/loss.png")
'''),
    code('''
Image("runs/nb-ch07/samples.png")
'''),
    md('''
## D and G gradients

Left: the discriminator's layers, right: the generator's. Early on D learns fast and its
gradients are large; G's gradient is what D's verdict passes back through D's layers.
'''),
    code('''
Image("runs/nb-ch07/grad_stats.png")
'''),
    code('''
loss, names = graph.training_step("mnist-gan", "G")
minigrad.viz.graph(loss, params=names)
'''),
])

NOTEBOOKS["ch08_celeba_gan"] = ({"faces": 2}, [
    md('''
# Chapter 8 — faces

The fully connected CelebA GAN: D flattens a 218×178×3 photo into 116 412 numbers → 100 →
1, G maps 100 random numbers → 300 → 116 412. The faces come from the book's HDF5 file
(`gans data celeba --from img_align_celeba.zip`); here, to run anywhere, from synthetic
face-like images in the same layout (`gans data celeba --synthetic N`). On a CPU one step
takes about half a second: the layers have 35 million weights.
'''),
    parameters('''
faces = 100   # synthetic faces, one training step each
'''),
    code(SETUP),
    code('''
from gans.data import CelebAFile, make_synthetic_celeba

path = make_synthetic_celeba("runs/nb-ch08-faces.h5", faces)
with CelebAFile(path) as f:
    import matplotlib.pyplot as plt
    plt.imshow(f[0]); plt.axis("off"); plt.title("a synthetic face (not CelebA)")
'''),
    code('''
metrics = training.train("celeba-gan", data=path, steps=faces, out="runs/nb-ch08", overwrite=True,
                         checkpoint_every=faces, grad_stats_every=max(faces // 10, 1))
{k: v for k, v in metrics.items() if k.startswith("final_")}
'''),
    code('''
Image("runs/nb-ch08/samples.png")
'''),
    md('''
Per-layer gradient norms: D's first layer sees all 116 412 pixels. (`gans graph celeba-gan --part D
--out graph.svg` draws its training step: `View` is a reshape, then the 116 412 × 100 `Linear`.)
'''),
    code('''
Image("runs/nb-ch08/grad_stats.png")
'''),
])

NOTEBOOKS["ch09_convolutions"] = ({"limit": 200}, [
    md('''
# Chapter 9 — convolutions

The convolutional MNIST classifier: two strided convolutions with BatchNorm, then one
`Linear` (`mnist-cnn`), and the graph of the book's convolutional CelebA GAN, where
transposed convolutions grow a 3×11×11 seed image to 3×128×128.
'''),
    parameters('''
limit = 3000   # training images, 1 epoch
'''),
    code(SETUP),
    code('''
metrics = training.train("mnist-cnn", limit=limit, epochs=1, out="runs/nb-ch09", overwrite=True,
                         checkpoint_every=limit, grad_stats_every=max(limit // 30, 1))
f"test accuracy {metrics['test_accuracy']:.1%}"
'''),
    code('''
Image("runs/nb-ch09/grad_stats.png")
'''),
    md('''
One training step of the classifier: `Conv2dBackward` and `BatchNormBackward` nodes, with
the parameter names of the book's `nn.Sequential`.
'''),
    code('''
loss, names = graph.training_step("mnist-cnn")
with minigrad.trace(params=names) as t:
    loss.backward()
t.table()
minigrad.viz.graph(loss, params=names)
'''),
    md('''
The generator's step of the convolutional CelebA GAN, through the discriminator:
'''),
    code('''
loss, names = graph.training_step("celeba-cnn-gan", "G")
minigrad.viz.graph(loss, params=names)
'''),
])

NOTEBOOKS["ch10_cgan"] = ({"limit": 100}, [
    md('''
# Chapter 10 — conditional GANs

A one-hot label is joined to the discriminator's image and to the generator's seed with
`torch.cat`, so the generator learns to draw the digit it is asked for (`mnist-cgan`; the book
trains 12 epochs). In `samples.png` each row asks for one digit.
'''),
    parameters('''
limit = 3000   # training images, 1 epoch
'''),
    code(SETUP),
    code('''
metrics = training.train("mnist-cgan", limit=limit, epochs=1, out="runs/nb-ch10", overwrite=True,
                         checkpoint_every=limit, grad_stats_every=max(limit // 30, 1), eval_samples=0)
{k: v for k, v in metrics.items() if k.startswith("final_")}
'''),
    code('''
Image("runs/nb-ch10/samples.png")
'''),
    md('''
In the graph the label enters twice: through the generator's input (already joined to the
seed, a constant) and through `CatBackward`, where it is joined to G's image before D sees it.
'''),
    code('''
loss, names = graph.training_step("mnist-cgan", "G")
minigrad.viz.graph(loss, params=names)
'''),
])


NOTEBOOKS["autograd_mechanics"] = ({"steps": 20}, [
    md('''
# Autograd mechanics, on minigrad

One step past the book: what PyTorch's note "Autograd mechanics" describes, in an engine you can
read (`minigrad/autograd/`, laid out as `torch/autograd/` is). A hand-written update, a custom
Function, a wrong backward caught by `gradcheck`, Newton's method with second derivatives, and a
gradient penalty — each runs the same on PyTorch (swap the import).
'''),
    parameters('''
steps = 200   # gradient-penalty GAN steps
'''),
    code('''
import minigrad as torch
import minigrad.nn as nn
'''),
    md('''
## The update every tutorial writes by hand

`p -= lr * p.grad` changes the parameter *in place*: the tensor itself moves (and `p._version`
counts the change). Outside `no_grad` PyTorch refuses it for a leaf that requires grad, and so does
minigrad.
'''),
    code('''
model = nn.Linear(2, 1)
model(torch.ones(2)).sum().backward()
before = model.weight.detach().clone()
with torch.no_grad():
    for p in model.parameters():
        p -= 0.1 * p.grad
print("before", before, "\\nafter ", model.weight.detach(), "\\nversion", model.weight._version)
try:
    model.weight += 1
except RuntimeError as error:
    print("RuntimeError:", error)
'''),
    md('''
## Saved tensors and their versions

A node keeps what its backward needs. Change one of those tensors in place and backward refuses,
with PyTorch's message, instead of computing a wrong gradient.
'''),
    code('''
x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
y = (x * 1).sigmoid()     # sigmoid keeps its output for backward: σ' = σ(1 − σ)
y.mul_(2)                 # ... which is now changed
try:
    y.sum().backward()
except RuntimeError as error:
    print(error)
'''),
    md('''
## A custom Function

PyTorch's API: static `forward` and `backward` with a `ctx`. The node appears in the graph by its
class name.
'''),
    code('''
class LegendreP3(torch.autograd.Function):
    """P₃(x) = ½(5x³ − 3x); P₃'(x) = 1.5·(5x² − 1)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return 0.5 * (5 * x ** 3 - 3 * x)

    @staticmethod
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return grad * 1.5 * (5 * x ** 2 - 1)

x = torch.tensor([0.5, -1.0], dtype=torch.float64, requires_grad=True)
y = LegendreP3.apply(x)
y.sum().backward()
print(y.grad_fn, x.grad)
'''),
    md('''
## gradcheck catches a wrong backward

`gradcheck` compares backward with central differences and shows both Jacobians when they
differ. Here the backward forgets the factor 2 of x².
'''),
    code('''
class WrongSquare(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return grad * x                      # should be 2·x·grad

print("LegendreP3:", torch.autograd.gradcheck(LegendreP3.apply, (x,)))
try:
    torch.autograd.gradcheck(WrongSquare.apply, (x,))
except torch.autograd.GradcheckError as error:
    print(error)
'''),
    md('''
## Newton's method: gradients of gradients

With `create_graph=True` the backward pass is recorded, so the gradient can be differentiated again.
Newton's step x ← x − f'(x)/f''(x) on chapter 1's cubic finds its minimum 2 + 1/√3.
'''),
    code('''
x = torch.tensor(3.5, dtype=torch.float64, requires_grad=True)
for step in range(6):
    y = (x - 1) * (x - 2) * (x - 3)
    dy, = torch.autograd.grad(y, x, create_graph=True)
    d2y, = torch.autograd.grad(dy, x)
    with torch.no_grad():
        x -= dy / d2y
    print(step, round(x.item(), 12))
print("2 + 1/√3 =", 2 + 3 ** -0.5)
'''),
    code('''
x = torch.tensor(3.5, requires_grad=True)
y = (x - 1) * (x - 2) * (x - 3)
dy_dx, = torch.autograd.grad(y, x, create_graph=True)
with torch.trace() as t:
    dy_dx.backward()
torch.viz.graph(dy_dx, params={"x": x, "dy/dx": dy_dx}, values=True, trace=t)   # the backward pass, as a graph
'''),
    md('''
## A gradient penalty on the book's discriminator

WGAN-GP's penalty λ(‖∇ₓD(x̂)‖ − 1)² needs the gradient of D with respect to its input *inside* the
loss: `autograd.grad(..., create_graph=True)`. `examples/autograd/gradient_penalty.py` trains the
book's MNIST GAN with it; the test suite runs that file on both engines and compares every loss.
'''),
    code('''
import runpy
from pathlib import Path
import gans

example = Path(gans.__file__).resolve().parents[1] / "examples" / "autograd" / "gradient_penalty.py"
history = runpy.run_path(str(example))["train"](steps=steps)
for step in range(0, len(history), max(len(history) // 5, 1)):
    print(f"step {step:4d}  D loss {history[step][0]:.4f}  (penalty {history[step][1]:.4f})  G loss {history[step][2]:.4f}")
'''),
])


def build(name, test_parameters, cells):
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    if test_parameters:
        nb.metadata["minigrad_gans"] = {"test_parameters": test_parameters}
    for i, cell in enumerate(nb.cells):
        cell.id = f"{name.split('_')[0]}-{i:02d}"  # stable ids: rebuilding changes nothing
    nbformat.validate(nb)
    return nb


def main():
    for name, (test_parameters, cells) in NOTEBOOKS.items():
        path = HERE / f"{name}.ipynb"
        nbformat.write(build(name, test_parameters, cells), path)
        print(f"wrote {path.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
