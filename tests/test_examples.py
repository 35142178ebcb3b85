"""The autograd examples are PyTorch programs that run on minigrad through their imports:
each is run twice, as written and with ``import torch``, and every number must agree."""
import re
from pathlib import Path

import numpy as np

from benchmarks.programs import load_example

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load(name, engine, folder="autograd"):
    """The example as a module, its minigrad imports swapped for PyTorch's when engine is torch."""
    path = EXAMPLES / folder / f"{name}.py"
    if engine == "torch":  # the swap must leave nothing of minigrad outside the docstrings
        swapped = re.sub(r"^(import|from) minigrad\b", r"\1 torch", path.read_text(), flags=re.M)
        assert "minigrad" not in re.sub(r'""".*?"""', "", swapped, flags=re.S)
    return load_example(path, engine)


def test_polynomial_fit_gives_pytorchs_numbers():
    ours = load("polynomial_fit", "minigrad").main()
    theirs = load("polynomial_fit", "torch").main()
    assert ours.keys() == theirs.keys()
    for name in ours:
        np.testing.assert_allclose(ours[name], theirs[name], rtol=1e-9, atol=1e-12, err_msg=name)
        assert ours[name][-1] < 10  # a cubic fits sin on [-π, π] to a summed squared error below 10


def test_gradient_penalty_gan_gives_pytorchs_losses():
    ours = np.array(load("gradient_penalty", "minigrad").train(steps=40))
    theirs = np.array(load("gradient_penalty", "torch").train(steps=40))
    np.testing.assert_allclose(ours, theirs, rtol=1e-9)
    assert np.all(ours[:, 1] > 0)  # the penalty is there and differentiated: D's losses include it


def test_mnist_cnn_gives_pytorchs_losses_from_the_same_weights_and_batches():
    """The PyTorch-examples-style CNN: weights copied from minigrad's model into PyTorch's,
    dropout off, the same batches in order, float64: every loss the same."""
    import torch
    ours, theirs = load("mnist_cnn", "minigrad", "pytorch"), load("mnist_cnn", "torch", "pytorch")
    import minigrad
    minigrad.manual_seed(0)
    model_ours, model_theirs = ours.Net(dropout=(0, 0)).double(), theirs.Net(dropout=(0, 0)).double()
    model_theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in model_ours.state_dict().items()})
    losses = []
    for module, model in ((ours, model_ours), (theirs, model_theirs)):
        data = module.mnist("train", 96, dtype=module.torch.float64)
        loader = module.DataLoader(data, batch_size=32)
        optimizer = module.optim.Adadelta(model.parameters(), lr=1.0)
        scheduler = module.StepLR(optimizer, step_size=1, gamma=0.7)
        epoch_losses = []
        for _ in range(2):
            epoch_losses += module.train(model, loader, optimizer)
            scheduler.step()
        losses.append(epoch_losses + list(module.test(model, module.DataLoader(data, batch_size=50))))
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-9)


def test_mnist_cnn_learns_in_quick_mode(tmp_path):
    accuracy = load("mnist_cnn", "minigrad", "pytorch").main(["--quick", "--save-model", str(tmp_path / "m.pt")])
    assert accuracy > 0.4  # ten classes: chance is 0.1
    import minigrad
    assert set(minigrad.load(tmp_path / "m.pt")) == {"conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias",
                                                    "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}


def test_dcgan_gives_pytorchs_losses_from_the_same_weights_noise_and_batches():
    import torch
    import minigrad
    ours, theirs = load("dcgan", "minigrad", "pytorch"), load("dcgan", "torch", "pytorch")
    minigrad.manual_seed(0)
    nets = {}
    for module in (ours, theirs):
        nets[module] = (module.Generator().apply(module.weights_init).double(),
                        module.Discriminator().apply(module.weights_init).double())
    for ours_net, theirs_net in zip(nets[ours], nets[theirs]):  # PyTorch starts from minigrad's weights
        theirs_net.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours_net.state_dict().items()})
    rng = np.random.default_rng(0)
    noise = [rng.standard_normal((16, ours.NZ, 1, 1)) for _ in range(4)]
    histories = []
    for module in (ours, theirs):
        netG, netD = nets[module]
        optimizers = [module.optim.Adam(n.parameters(), lr=0.0002, betas=(0.5, 0.999)) for n in (netG, netD)]
        loader = module.DataLoader(module.digits(64, dtype=module.torch.float64), batch_size=16)
        histories.append([module.train_step(netG, netD, *optimizers, real, module.torch.tensor(z),
                                            module.nn.BCELoss()) for (real,), z in zip(loader, noise)])
    np.testing.assert_allclose(histories[0], histories[1], rtol=1e-9)


def test_dcgan_discriminator_learns_in_quick_mode():
    history = np.array(load("dcgan", "minigrad", "pytorch").main(["--quick"]))
    assert history[:, 2].mean() > history[:, 3].mean() + 0.1  # D(x) above D(G(z)): it tells them apart


def test_blitz_programs_give_pytorchs_numbers_from_the_same_weights():
    import torch
    import minigrad
    ours, theirs = load("blitz", "minigrad", "pytorch"), load("blitz", "torch", "pytorch")
    minigrad.manual_seed(0)
    net_ours, net_theirs = ours.Net().double(), theirs.Net().double()
    net_theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in net_ours.state_dict().items()})
    results = []
    for module, net in ((ours, net_ours), (theirs, net_theirs)):
        data = module.stand_in_images(24, 1, dtype=module.torch.float64)
        target = module.torch.tensor(np.linspace(-1, 1, 10)[None], dtype=module.torch.float64)
        loss, before, after, path = module.neural_networks(net, data.tensors[0][:1], target)
        optimizer = module.optim.SGD(net.parameters(), lr=0.001, momentum=0.9)
        losses = module.train(net, module.DataLoader(data, batch_size=4), optimizer, module.nn.CrossEntropyLoss())
        results.append(([loss] + losses, before, after.numpy(), path))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-9)
    assert results[0][1] is None and results[1][1] is None  # zero_grad() sets .grad to None, as PyTorch
    np.testing.assert_allclose(results[0][2], results[1][2], rtol=1e-9)
    # the graph walked back from the loss, first inputs first: PyTorch's addmm takes the bias
    # first, minigrad's fused Linear the input
    assert results[1][3] == ["MseLossBackward0", "AddmmBackward0", "AccumulateGrad"]
    assert results[0][3] == ["MSELoss", "Linear", "Relu"]


def test_blitz_classifier_learns():
    assert load("blitz", "minigrad", "pytorch").main(["--epochs", "2", "--images", "1000"]) > 0.3
