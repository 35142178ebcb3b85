"""The book's code on minigrad by swapping the imports: the PyTorch features the book uses,
and the chapter programs in ``examples/book/`` run in quick mode and learn."""
import os
import random
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import minigrad as torch
import minigrad.nn as nn
from minigrad.utils.data import Dataset

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "book"


@pytest.fixture(autouse=True)
def default_tensor_type():
    """Examples may switch the default tensor type (to CUDA, on a GPU); put it back."""
    saved = torch.defaults.dtype, torch.defaults.device_type
    yield
    torch.defaults.dtype, torch.defaults.device_type = saved


# --- what the book's code uses -----------------------------------------------------------------

def test_tensors_the_way_the_book_makes_them():
    real = torch.FloatTensor([random.uniform(0.8, 1.0), 0.1, 0.9, 0.0])
    assert real.dtype == torch.float32 and real.shape == (4,)
    assert torch.rand(4).shape == (4,) and torch.randn(100).shape == (100,)
    target = torch.zeros((10))
    target[np.int64(3)] = 1.0  # a label read from a data frame is a NumPy integer
    assert target.tolist() == [0, 0, 0, 1, 0, 0, 0, 0, 0, 0]
    assert torch.cat((torch.rand(784), target)).shape == (794,)
    image = torch.FloatTensor(np.zeros((218, 178, 3), dtype=np.uint8)) / 255.0
    shape = 218 * 178 * 3,  # the book's View keeps its shape in a tuple: x.view(*self.shape)
    assert image.view(*shape).shape == (116412,)
    assert image.view(*((218, 178, 3),)).shape == (218, 178, 3)
    crop = torch.FloatTensor(np.zeros((128, 128, 3)))
    assert crop.permute(2, 0, 1).view(1, 3, 128, 128).shape == (1, 3, 128, 128)
    out = torch.rand(4, requires_grad=True) * 2
    assert isinstance(out.detach().cpu().numpy(), np.ndarray)
    assert torch.FloatTensor([0.25]).item() == 0.25


def test_devices_and_the_cuda_module_on_any_machine():
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    assert str(device) in ("cpu", "cuda")
    model = nn.Sequential(nn.Linear(2, 2))
    assert model.to(device) is model
    if torch.cuda.is_available():
        assert torch.cuda.FloatTensor([1.0]).is_cuda
        assert isinstance(torch.cuda.get_device_name(0), str)
        assert torch.cuda.memory_allocated(device) >= 0 and torch.cuda.max_memory_allocated(device) >= 0
    else:
        with pytest.raises(RuntimeError, match="cuda.FloatTensor needs a CUDA GPU"):
            torch.cuda.FloatTensor([1.0])
        with pytest.raises(RuntimeError, match="CUDA"):
            torch.set_default_tensor_type(torch.cuda.FloatTensor)
        assert torch.cuda.memory_allocated(device) == 0 and torch.cuda.max_memory_allocated(device) == 0
        assert "no CUDA GPU" in torch.cuda.memory_summary(device, abbreviated=True)


def test_default_tensor_type_and_its_modern_replacements():
    torch.set_default_tensor_type(torch.DoubleTensor)
    assert torch.rand(2).dtype == torch.float64
    torch.set_default_tensor_type(torch.FloatTensor)
    assert torch.rand(2).dtype == torch.float32 and torch.rand(2).device == torch.device("cpu")
    torch.set_default_tensor_type("torch.DoubleTensor")
    assert torch.zeros(1).dtype == torch.float64
    torch.set_default_dtype(torch.float32)
    torch.set_default_device("cpu")
    assert torch.zeros(1).dtype == torch.float32 and torch.get_default_dtype() == torch.float32


def test_a_module_with_its_own_train_method_and_a_dataset_of_tuples():
    class Data(Dataset):
        def __len__(self):
            return 3

        def __getitem__(self, index):
            if index >= 3:
                raise IndexError()
            target = torch.zeros((2))
            target[index % 2] = 1.0
            return index, torch.FloatTensor([index, 1.0]), target

    class Classifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.model = nn.Sequential(nn.Linear(2, 2), nn.Sigmoid())
            self.loss_function = nn.MSELoss()
            self.optimiser = torch.optim.SGD(self.parameters(), lr=0.5)
            self.progress = []

        def forward(self, inputs):
            return self.model(inputs)

        def train(self, inputs, targets):  # shadows nn.Module.train(mode), as in the book
            loss = self.loss_function(self.forward(inputs), targets)
            self.progress.append(loss.item())
            self.optimiser.zero_grad()
            loss.backward()
            self.optimiser.step()

    C = Classifier()
    assert [name for name, _ in C.named_parameters()] == ["model.0.weight", "model.0.bias"]
    for epoch in range(30):
        for label, image, target in Data():
            C.train(image, target)
    assert C.progress[-1] < C.progress[0]
    assert C.eval() is C and not C.model.training  # eval() still works without Module.train


# --- the chapter programs ----------------------------------------------------------------------

def run_example(name, tmp_path, *args):
    if name.startswith("ch09") and not hasattr(nn, "Conv2d"):
        pytest.skip("minigrad has no Conv2d yet")
    main = runpy.run_path(str(EXAMPLES / f"{name}.py"))["main"]
    return main(["--quick", "--out", str(tmp_path), *args])


def test_ch01_gradients_and_graphs(tmp_path):
    result = run_example("ch01_autograd", tmp_path)
    assert result["first"] == pytest.approx(5.75)
    assert result["chained"] == pytest.approx(14.0)
    assert result["diamond"] == pytest.approx((64.0, 33.0))
    for graph in ("first", "chained", "diamond"):
        assert (tmp_path / f"ch01_{graph}_graph.png").stat().st_size > 5_000


def test_ch01_runs_as_a_script(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, str(EXAMPLES / "ch01_autograd.py"), "--quick", "--out", str(tmp_path)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "x.grad = tensor(5.7500)" in done.stdout and "a.grad = tensor(64.)" in done.stdout


def test_ch02_classifier_loss_falls(tmp_path):
    result = run_example("ch02_mnist_classifier", tmp_path)
    progress = np.array(result["progress"])
    assert progress[-50:].mean() < progress[:50].mean() - 0.01  # slowly: this is what ch. 3 fixes
    assert (tmp_path / "progress.png").exists()


def test_ch03_refined_classifier_learns_fast(tmp_path):
    result = run_example("ch03_refined_classifier", tmp_path)
    assert result["accuracy"] > 0.7  # chance is 0.1


def test_ch06_gan_learns_1010(tmp_path):
    result = run_example("ch06_gan_1010", tmp_path)
    d_loss = np.mean(result["d_progress"][-100:])
    assert abs(d_loss - 0.25) < 0.03  # D can no longer tell: 0.5 for all, MSE 0.25
    assert np.allclose(result["pattern"], [1, 0, 1, 0], atol=0.25)
    assert (tmp_path / "pattern_evolution.png").exists()


def test_ch07_mnist_gan_learns_dark_backgrounds(tmp_path):
    result = run_example("ch07_mnist_gan", tmp_path)
    assert result["trained_mean"] < result["untrained_mean"] - 0.05  # digits are mostly background
    assert np.all(np.isfinite(result["d_progress"])) and (tmp_path / "seed_arithmetic.png").exists()
    assert (tmp_path / "seed_interpolation.png").exists()


def test_ch08_celeba_gan_runs_on_synthetic_faces(tmp_path):
    result = run_example("ch08_celeba_gan", tmp_path)
    assert result["d_real"] > result["d_real_before"]  # D learns that real faces are real
    assert np.all(np.isfinite(result["d_progress"] + result["g_progress"]))
    assert (tmp_path / "generated.png").exists()


def test_ch09_cnn_classifier_learns(tmp_path):
    result = run_example("ch09_cnn", tmp_path)
    assert result["accuracy"] > 0.7


def test_ch09_celeba_cnn_gan_runs(tmp_path):
    result = run_example("ch09_celeba_cnn_gan", tmp_path)
    assert result["d_real"] > result["d_real_before"]
    assert (tmp_path / "generated.png").exists()


def test_ch10_cgan_learns_dark_backgrounds(tmp_path):
    result = run_example("ch10_cgan", tmp_path)
    assert result["trained_mean"] < result["untrained_mean"] - 0.05
    assert (tmp_path / "generated_3.png").exists()


# experiment -> (chapter program, its network classes by part): the same networks twice
BOOK_NETWORKS = {
    "classifier": ("ch02_mnist_classifier", {"classifier": "Classifier"}),
    "classifier-refined": ("ch03_refined_classifier", {"classifier": "Classifier"}),
    "pattern-1010": ("ch06_gan_1010", {"D": "Discriminator", "G": "Generator"}),
    "mnist-gan": ("ch07_mnist_gan", {"D": "Discriminator", "G": "Generator"}),
    "celeba-gan": ("ch08_celeba_gan", {"D": "Discriminator", "G": "Generator"}),
    "mnist-cnn": ("ch09_cnn", {"classifier": "Classifier"}),
    "celeba-cnn-gan": ("ch09_celeba_cnn_gan", {"D": "Discriminator", "G": "Generator"}),
    "mnist-cgan": ("ch10_cgan", {"D": "Discriminator", "G": "Generator"}),
}


def _layers(module):
    """The layers of a network with their settings, the book's ``View`` left out (each program
    writes its own), and the loss and optimiser that train it."""
    model = module.model
    model = getattr(model, "model", model)  # gans' Conditional wraps the Sequential
    layers = [(type(layer).__name__, layer.extra_repr()) for layer in model if type(layer).__name__ != "View"]
    optimiser = module.optimiser
    group = optimiser.param_groups[0]
    loss = getattr(module, "loss_function", None)
    return layers, type(loss).__name__, type(optimiser).__name__, group["lr"]


@pytest.mark.parametrize("name", list(BOOK_NETWORKS))
def test_experiments_build_the_book_programs_networks(name):
    """gans/models.py writes the book's networks once for both engines; the chapter programs
    copy the book's code: both must describe the same layers, loss and optimiser."""
    from gans import experiments
    from gans.engines import Engine
    program, classes = BOOK_NETWORKS[name]
    namespace = runpy.run_path(str(EXAMPLES / f"{program}.py"))
    models = experiments.get(name).build(Engine("minigrad"), {})
    for part, cls in classes.items():
        ours = models.parts[part]
        book = namespace[cls]()
        assert _layers(ours) == _layers(book), f"{name} {part}"
