"""minigrad.accel, the speed machinery: how it attaches (``replaces``), and that the engine
without it (``MINIGRAD_ACCEL=0``) trains the book's models to the same numbers."""
import os
import platform
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from minigrad import accel

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def attached_here(monkeypatch):
    """What a test attaches to its own classes stays out of the package's list."""
    monkeypatch.setattr(accel, "_attached", list(accel._attached))


def test_replaces_runs_the_fast_version_where_when_holds_and_the_engine_elsewhere(attached_here):
    class Op:
        def forward(self, x):
            """The engine's formula."""
            return ("engine", x)

    def fast(self, x):
        return ("fast", x)

    accel.replaces(Op, "forward", lambda self, x: x > 0)(fast)
    if not accel.ENABLED:  # switched off: nothing attaches
        assert Op().forward(1) == ("engine", 1) and not any("Op.forward" in n for n in accel.replacements())
        return
    assert Op().forward(1) == ("fast", 1) and Op().forward(-1) == ("engine", -1)
    assert accel.plain(Op, "forward")(Op(), 1) == ("engine", 1)
    assert any(name.endswith("Op.forward") for name in accel.replacements())
    assert Op.forward.__doc__ == "The engine's formula."  # a reader who asks sees the engine's
    assert Op.forward.fast is fast


def test_replaces_without_when_runs_the_fast_version_under_the_engines_name(attached_here):
    class Op:
        def forward(self, x):
            """The engine's formula."""
            return ("engine", x)

    def fast(self, x):
        return ("fast", x)

    accel.replaces(Op, "forward")(fast)
    if not accel.ENABLED:
        assert Op().forward(-1) == ("engine", -1)
        return
    assert Op().forward(-1) == ("fast", -1) and accel.plain(Op, "forward")(Op(), -1) == ("engine", -1)
    assert (Op.forward.__name__, Op.forward.__doc__, Op.forward.fast) == ("forward", "The engine's formula.", fast)


def test_replaces_keeps_a_static_method_static(attached_here):
    class Update:
        @staticmethod
        def descend(param, step):
            return param - step

    accel.replaces(Update, "descend", lambda param, step: step == 0)(lambda param, step: "fast")
    assert Update.descend(5, 2) == 3 and Update().descend(5, 2) == 3
    assert Update.descend(5, 0) == ("fast" if accel.ENABLED else 5)


@pytest.mark.parametrize("slope", [0.0, 0.01, 0.2, 1.0, 1.5, -0.3])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_leaky_relus_select_without_a_branch_gives_the_engines_numbers(slope, dtype):
    from minigrad.ops.elementwise import LeakyRelu
    rng = np.random.default_rng(0)
    a = (rng.standard_normal(500) * 3).astype(dtype)
    a[:8] = [0.0, -0.0, np.nan, np.inf, -np.inf, 1e-45, -1e-45, np.finfo(dtype).max]
    grad = rng.standard_normal(500).astype(dtype)
    grad[8:12] = [np.nan, -0.0, np.inf, 0.0]
    results = []
    for forward, backward in ((accel.plain(LeakyRelu, "forward"), accel.plain(LeakyRelu, "backward")),
                              (LeakyRelu.forward, LeakyRelu.backward)):
        op = LeakyRelu(slope)
        op.needs_grad = (True,)
        with np.errstate(invalid="ignore", over="ignore"):  # ∞·0, and the largest number times a slope
            results.append((forward(op, a), backward(op, grad)))
    for engine, fast in zip(*results):
        assert engine.dtype == fast.dtype
        np.testing.assert_array_equal(engine, fast)
        assert (np.signbit(engine) == np.signbit(fast)).all()  # zeros keep their sign too


def test_what_is_attached_on_the_cpu():
    attached = accel.replacements()
    if not accel.ENABLED:
        assert attached == []
        return
    for name in ("minigrad.ops.convolution.windows", "minigrad.optim.optimizer.Optimizer._plan",
                 "minigrad.ops.elementwise.LeakyRelu.forward", "minigrad.ops.elementwise.LeakyRelu.backward"):
        assert name in attached


TRAIN = """
import sys
from gans import training
training.train(sys.argv[1], "minigrad", dtype="float64", steps=int(sys.argv[2]), out=sys.argv[3], progress=False,
               eval_samples=0, echo=lambda *a: None)
"""


def _train(name, steps, out, accelerated):
    environment = dict(os.environ, MINIGRAD_ACCEL="1" if accelerated else "0", PYTHONPATH=str(ROOT))
    subprocess.run([sys.executable, "-c", TRAIN, name, str(steps), str(out)], env=environment, check=True,
                   cwd=ROOT, capture_output=True, timeout=600)
    with zipfile.ZipFile(out / "checkpoint.npz") as archive:  # weights and optimiser state
        return {key: np.load(archive.open(key)) for key in archive.namelist() if not key.startswith("__meta__")}


# (experiment, steps, what "the same" means): the engine's convolution (im2col) adds in another
# order than the products per phase that accel uses for its 256-to-3 layers, so the CelebA CNN
# agrees to rounding, relative to the largest value of its kind (weights, biases, Adam's moments: a bias
# before a BatchNorm has a gradient of pure rounding noise, and so moments of it)
@pytest.mark.parametrize("name, steps, exact", [("classifier-refined", 40, True), ("mnist-gan", 20, True),
                                                ("mnist-cnn", 20, True), ("celeba-cnn-gan", 2, False)])
def test_the_engine_without_accel_trains_to_the_same_numbers(name, steps, exact, tmp_path):
    fast = _train(name, steps, tmp_path / "accel", accelerated=True)
    plain = _train(name, steps, tmp_path / "plain", accelerated=False)
    assert fast.keys() == plain.keys() and len(fast) > 4
    largest = {}  # kind -> its largest magnitude
    for key, value in plain.items():
        largest[_kind(key)] = max(largest.get(_kind(key), 0), float(np.abs(value).max(initial=0)))
    for key, value in fast.items():
        if value.dtype.kind != "f":
            np.testing.assert_array_equal(value, plain[key], err_msg=key)
        elif exact:
            np.testing.assert_array_equal(value, plain[key], err_msg=key)
        else:
            np.testing.assert_allclose(value, plain[key], rtol=1e-9, atol=1e-8 * largest[_kind(key)], err_msg=key)


def _kind(key):
    """'model/G/3.bias.npy' → 'bias', 'optim/D/1/exp_avg.npy' → 'exp_avg'."""
    return key.removesuffix(".npy").rsplit("/", 1)[-1].rsplit(".", 1)[-1]


def test_products_per_phase_only_where_they_copy_fewer_numbers_than_im2col():
    """The CelebA CNNs' 256-to-3 layers (C ≫ M) take products per phase; DCGAN's first
    transposed convolution, a 1×1 input to 7×7 with 32 channels against 16, does not
    (there the shifted copies of the 16-channel side would dwarf im2col's); without a stride
    (it, and PyTorch's MNIST example) the engine's own im2col, with one the phases'."""
    from minigrad.accel.convolution import Gathered, PhaseProducts, PhaseWindows, lowering
    from minigrad.ops.convolution import Windows
    celeba_d_last = ((3, 256, 8, 8), (27, 27), (2, 2), (1, 1), (10, 10))
    celeba_g_first = ((3, 256, 8, 8), (28, 28), (2, 2), (1, 1), (11, 11))   # ConvTranspose2d(3, 256): its conv
    dcgan_g_first = ((16, 32, 7, 7), (7, 7), (1, 1), (1, 1), (1, 1))
    celeba_256 = ((256, 256, 8, 8), (61, 61), (2, 2), (1, 1), (27, 27))
    assert lowering(*celeba_d_last, "cpu") is PhaseProducts and lowering(*celeba_g_first, "cpu") is PhaseProducts
    example_conv2 = ((16, 8, 3, 3), (26, 26), (1, 1), (1, 1), (24, 24))
    assert lowering(*dcgan_g_first, "cpu") is Windows and lowering(*example_conv2, "cpu") is Windows
    assert lowering(*celeba_256, "cpu") is PhaseWindows
    assert lowering(*celeba_d_last, "cuda") is Gathered


FAULTS = """
import resource, numpy as np, minigrad
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
counts = []
for _ in range(2):  # a 3 MB array made, filled and freed twice, as a training step's arrays are
    before = faults()
    a = np.ones(3 * 1024 * 1024 // 4, dtype=np.float32)
    counts.append(faults() - before)
    del a
print(counts[1])
"""


def _huge_pages_always():
    try:
        return "[always]" in Path("/sys/kernel/mm/transparent_hugepage/enabled").read_text()
    except OSError:
        return False


@pytest.mark.skipif(not (sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"),
                    reason="settings of glibc's malloc")
@pytest.mark.skipif(_huge_pages_always(), reason="with huge pages always on, fresh memory takes few page faults")
def test_freed_memory_comes_back_without_fresh_pages():
    """accel.memory: an array freed and made again reuses the same pages (no page faults the
    second time); without accel glibc hands the first back to the operating system and the
    second comes as fresh, zero-filled pages (hundreds of faults)."""
    def second_faults(accel_on):
        environment = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}
        environment.update(MINIGRAD_ACCEL="1" if accel_on else "0", PYTHONPATH=str(ROOT))
        out = subprocess.run([sys.executable, "-c", FAULTS], env=environment, check=True, capture_output=True, text=True)
        return int(out.stdout.split()[-1])
    assert second_faults(True) <= 5
    assert second_faults(False) > 100
