"""The example programs of ``examples/pytorch/`` at their usual batch size (64), as benchmark
workloads beside the book's experiments: one training iteration each, on minigrad and, with
only the imports changed, on PyTorch."""
import re
import time
import types
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
BATCH = 64


def load_example(path, engine):
    """An example file as a module; for ``engine='torch'`` its minigrad imports become PyTorch's."""
    path = Path(path)
    source = path.read_text()
    if engine == "torch":
        source = re.sub(r"^(import|from) minigrad\b", r"\1 torch", source, flags=re.M)
    module = types.ModuleType(f"{path.stem}_{engine}")
    module.__file__ = str(path)
    exec(compile(source, str(path), "exec"), module.__dict__)
    return module


def _mnist_cnn(m, dtype):
    """mnist_cnn.py: Adadelta on the NLL of the CNN, dropout on, four batches of real digits."""
    net = m.Net().to(dtype)
    optimizer = m.optim.Adadelta(net.parameters())
    batches = list(m.DataLoader(m.mnist("train", 4 * BATCH, dtype=dtype), batch_size=BATCH))

    def step(batch):
        images, labels = batch
        optimizer.zero_grad()
        loss = m.F.nll_loss(net(images), labels)
        loss.backward()
        optimizer.step()
    return step, batches


def _dcgan(m, dtype):
    """dcgan.py: one discriminator and one generator step on real digits and fresh noise."""
    netG, netD = m.Generator().apply(m.weights_init).to(dtype), m.Discriminator().apply(m.weights_init).to(dtype)
    optimizers = [m.optim.Adam(n.parameters(), lr=2e-4, betas=(0.5, 0.999)) for n in (netG, netD)]
    criterion = m.nn.BCELoss()
    batches = [(real, m.torch.randn(BATCH, m.NZ, 1, 1, dtype=dtype))
               for (real,) in m.DataLoader(m.digits(4 * BATCH, dtype=dtype), batch_size=BATCH)]

    def step(batch):
        m.train_step(netG, netD, *optimizers, batch[0], batch[1], criterion)
    return step, batches


PROGRAMS = {"mnist-cnn-b64": ("pytorch/mnist_cnn.py", _mnist_cnn), "dcgan-b64": ("pytorch/dcgan.py", _dcgan)}


class ProgramWorkload:
    """The ``Workload`` interface (``run(iterations)`` → seconds) for an example program."""

    def __init__(self, name, label, device="cpu", dtype="float32", seed=0, data=None):
        if device != "cpu":
            raise NotImplementedError(f"{name} is benchmarked on the CPU only")
        path, setup = PROGRAMS[name]
        module = load_example(EXAMPLES / path, label)
        module.torch.manual_seed(seed)
        self.step, self.batches = setup(module, getattr(module.torch, dtype))
        self.next = 0

    def run(self, iterations):
        started = time.perf_counter()
        for i in range(iterations):
            self.step(self.batches[(self.next + i) % len(self.batches)])
        self.next += iterations
        return time.perf_counter() - started

    def peak_traced_bytes(self):
        return peak_traced_bytes(self)


def peak_traced_bytes(load):
    """Peak Python/NumPy allocation of one iteration (tracemalloc sees NumPy, not PyTorch's allocator)."""
    import tracemalloc
    tracemalloc.start()
    load.run(1)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak
