"""Modules against PyTorch: registration, state_dict exchange both ways, printing, init."""
import math

import numpy as np
import pytest
import torch
import torch.nn as tnn

import minigrad
import minigrad.nn as nn
from helpers import assert_close


def book_classifier(nn_):
    """The book's chapter 3 classifier, on either engine."""
    return nn_.Sequential(nn_.Linear(784, 200), nn_.LeakyReLU(0.02), nn_.LayerNorm(200),
                          nn_.Linear(200, 10), nn_.Sigmoid())


class Custom(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(4, 3), nn.Tanh())
        self.head = nn.Linear(3, 1, bias=False)
        self.scale = nn.Parameter(minigrad.ones(1))

    def forward(self, x):
        return self.head(self.encoder(x)) * self.scale


def test_registration_and_names():
    m = Custom()
    names = [n for n, _ in m.named_parameters()]
    assert names == ["scale", "encoder.0.weight", "encoder.0.bias", "head.weight"]
    assert len(list(m.children())) == 2 and len(list(m.modules())) == 5
    assert list(m.state_dict()) == names
    assert all(p.requires_grad for p in m.parameters())


def test_state_dict_from_pytorch_gives_identical_outputs():
    torch.manual_seed(0)
    theirs = book_classifier(tnn).double()
    ours = book_classifier(nn).double()
    ours.load_state_dict(theirs.state_dict())
    x = np.random.default_rng(1).random((3, 784))
    assert_close(ours(minigrad.tensor(x)), theirs(torch.tensor(x)))


def test_state_dict_to_pytorch_gives_identical_outputs():
    minigrad.manual_seed(0)
    ours = book_classifier(nn).double()
    theirs = book_classifier(tnn).double()
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in ours.state_dict().items()})
    x = np.random.default_rng(2).random((2, 784))
    assert_close(ours(minigrad.tensor(x)), theirs(torch.tensor(x)))


def test_load_state_dict_accepts_numpy_arrays_and_non_strict():
    m = nn.Linear(2, 2)
    result = m.load_state_dict({"weight": np.eye(2)}, strict=False)
    assert result.missing_keys == ["bias"] and result.unexpected_keys == []
    assert m.weight.tolist() == [[1, 0], [0, 1]]


def test_repr_matches_pytorch():
    ours, theirs = book_classifier(nn), book_classifier(tnn)
    assert repr(ours) == repr(theirs)
    assert repr(nn.MSELoss()) == repr(tnn.MSELoss())


def test_linear_default_init_bounds_match_pytorch():
    minigrad.manual_seed(0)
    layer = nn.Linear(400, 30)
    bound = 1 / math.sqrt(400)
    w, b = layer.weight.detach().numpy(), layer.bias.detach().numpy()
    assert w.shape == (30, 400) and b.shape == (30,)
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    # U(-bound, bound) has standard deviation bound/√3
    assert abs(w.std() - bound / math.sqrt(3)) < 0.02 * bound
    assert abs(w.mean()) < 0.02 * bound


def test_layer_norm_defaults():
    ln = nn.LayerNorm(200)
    assert ln.eps == 1e-5 and ln.weight.tolist() == [1.0] * 200 and ln.bias.tolist() == [0.0] * 200


def test_train_eval_double_and_zero_grad():
    m = Custom()
    m.eval()
    assert not any(x.training for x in m.modules())
    m.train()
    assert all(x.training for x in m.modules())
    m.double()
    assert all(p.dtype == minigrad.float64 for p in m.parameters())
    m(minigrad.ones(2, 4, dtype=minigrad.float64)).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())


def test_book_style_module_with_its_own_train_method():
    """The book's classes define train(inputs, targets); eval() must still work."""
    class Classifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.model = nn.Sequential(nn.Linear(4, 2), nn.Sigmoid())
            self.loss_function = nn.MSELoss()
            self.optimiser = minigrad.optim.SGD(self.parameters(), lr=0.5)

        def forward(self, inputs):
            return self.model(inputs)

        def train(self, inputs, targets):
            loss = self.loss_function(self.forward(inputs), targets)
            self.optimiser.zero_grad()
            loss.backward()
            self.optimiser.step()
            return loss.item()

    c = Classifier()
    x, t = minigrad.FloatTensor([1, 0, 1, 0]), minigrad.FloatTensor([1.0, 0.0])
    losses = [c.train(x, t) for _ in range(50)]
    assert losses[-1] < losses[0] / 2
    c.eval()
    assert not c.model.training


def test_missing_super_init_is_explained():
    class Broken(nn.Module):
        def __init__(self):
            self.layer = nn.Linear(1, 1)
    with pytest.raises(AttributeError, match="super"):
        Broken()


@pytest.mark.parametrize("shape", [(5,), (2, 5), (2, 3, 4), (2, 3, 2, 2)])
def test_softmax_without_dim_picks_pytorchs_dimension(shape):
    """nn.Softmax() and F.softmax(x): dim 1, but 0 for 0-, 1- and 3-d inputs, with the warning."""
    x = np.random.default_rng(0).standard_normal(shape)
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        ours = nn.Softmax()(minigrad.tensor(x))
    with pytest.warns(UserWarning):
        theirs = tnn.Softmax()(torch.tensor(x))
    assert_close(ours, theirs)
    with pytest.warns(UserWarning, match="log_softmax"):
        ours = nn.functional.log_softmax(minigrad.tensor(x))
    with pytest.warns(UserWarning):
        theirs = torch.nn.functional.log_softmax(torch.tensor(x))
    assert_close(ours, theirs)


def test_one_dimension_means_an_int():
    x = minigrad.tensor([[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(TypeError, match="'dim' must be int, not tuple"):
        x.max(dim=(0, 1))
    with pytest.raises(TypeError, match="'dim' must be int, not NoneType"):
        x.softmax(None)


def test_relu_of_a_negative_number_is_plus_zero():
    out = minigrad.tensor([-1.0, 0.0, 2.0]).relu().numpy()
    assert out.tolist() == [0.0, 0.0, 2.0] and not np.signbit(out).any()


def test_assigning_to_a_parameter_or_buffer_keeps_it_registered_as_pytorch_does():
    layer = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="cannot assign 'minigrad.FloatTensor' as parameter 'weight'"):
        layer.weight = layer.weight * 2  # would drop the weight from parameters() and the optimiser
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]
    norm = nn.BatchNorm1d(2)
    norm.running_mean = minigrad.ones(2)  # a buffer stays a buffer
    assert norm.state_dict()["running_mean"].tolist() == [1.0, 1.0]
    with pytest.raises(TypeError, match="as buffer 'running_mean'"):
        norm.running_mean = 3


def test_state_dict_round_trip_with_tied_weights():
    model = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 3))
    model[1].weight = model[0].weight
    theirs = tnn.Sequential(tnn.Linear(3, 3), tnn.Linear(3, 3))
    theirs[1].weight = theirs[0].weight
    assert list(model.state_dict()) == list(theirs.state_dict())
    model.load_state_dict(theirs.state_dict())
    assert_close(model[1].weight, theirs[0].weight)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shapes", [((4, 1), (4,)), ((2, 3), (3,)), ((3,), (1,))])
def test_mse_with_a_differently_shaped_target_warns_and_broadcasts_like_pytorch(shapes, reduction):
    rng = np.random.default_rng(1)
    x, y = rng.random(shapes[0]), rng.random(shapes[1])
    ours = [minigrad.tensor(v, requires_grad=True) for v in (x, y)]
    theirs = [torch.tensor(v, requires_grad=True) for v in (x, y)]
    with pytest.warns(UserWarning, match="different to the input size"):
        loss = nn.functional.mse_loss(*ours, reduction=reduction)
    with pytest.warns(UserWarning):
        reference = torch.nn.functional.mse_loss(*theirs, reduction=reduction)
    assert_close(loss, reference)
    loss.sum().backward()
    reference.sum().backward()
    for a, b in zip(ours, theirs):
        assert_close(a.grad, b.grad)
    with pytest.warns(UserWarning), pytest.raises(RuntimeError, match="must match the size of tensor b"):
        nn.functional.mse_loss(minigrad.ones(4, 3), minigrad.zeros(4))


def test_layer_norm_with_a_bias_and_no_weight_matches_pytorch():
    x = np.random.default_rng(2).standard_normal((3, 4))
    b = np.random.default_rng(3).standard_normal(4)
    ours = [minigrad.tensor(v, requires_grad=True) for v in (x, b)]
    theirs = [torch.tensor(v, requires_grad=True) for v in (x, b)]
    y = nn.functional.layer_norm(ours[0], (4,), None, ours[1])
    reference = torch.nn.functional.layer_norm(theirs[0], (4,), None, theirs[1])
    assert_close(y, reference)
    (y * y).sum().backward()
    (reference * reference).sum().backward()
    for a, t in zip(ours, theirs):
        assert_close(a.grad, t.grad)


def test_mse_of_two_dtypes_promotes_like_pytorch(device):
    x = minigrad.tensor([0.5, 2.0], requires_grad=True, device=device)
    loss = nn.functional.mse_loss(x, minigrad.tensor([1.0, 0.0], dtype=minigrad.float64, device=device))
    loss.backward()
    tx = torch.tensor([0.5, 2.0], requires_grad=True)
    expected = torch.nn.functional.mse_loss(tx, torch.tensor([1.0, 0.0], dtype=torch.float64))
    expected.backward()
    assert loss.dtype == np.float64 and x.grad.dtype == np.float32
    np.testing.assert_allclose(loss.item(), expected.item(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.cpu().numpy(), tx.grad.numpy(), rtol=1e-6)


def test_state_dict_lists_a_module_registered_twice_under_both_names():
    def build(nn_):
        model = nn_.Sequential(nn_.Linear(3, 2))
        model.tied = model[0]
        return model
    ours, theirs = build(nn), build(tnn)
    assert list(ours.state_dict()) == list(theirs.state_dict())  # 0.weight, 0.bias, tied.weight, tied.bias
    ours.load_state_dict(theirs.state_dict())
    assert len(list(ours.parameters())) == 2  # parameters() still lists each once
