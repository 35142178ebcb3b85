"""Layers and losses a learner meets after the book, against PyTorch: cross-entropy and NLL
(weights, ignore_index, reductions, probability targets, spatial targets), dropout, one_hot,
in-place activations, ModuleList/ModuleDict and Module.apply."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, strategies as st

import minigrad
import minigrad.nn as nn
import minigrad.nn.functional as F
from helpers import assert_close, check, check_second_order, to_numpy, values


@given(data=st.data(), n=st.integers(1, 5), c=st.integers(2, 6), spatial=st.sampled_from([(), (3,), (2, 2)]),
       reduction=st.sampled_from(["mean", "sum", "none"]), weighted=st.booleans(), ignore=st.booleans())
def test_cross_entropy_and_nll_loss_equal_pytorchs(data, n, c, spatial, reduction, weighted, ignore):
    logits = data.draw(values((n, c) + spatial))
    labels = data.draw(st.lists(st.integers(0, c - 1), min_size=n * int(np.prod(spatial)),
                                max_size=n * int(np.prod(spatial)))).copy()
    labels = np.array(labels, dtype=np.int64).reshape((n,) + spatial)
    ignore_index = int(labels.flat[0]) if ignore and labels.size > 1 else -100
    if ignore_index != -100 and np.all(labels == ignore_index) and reduction == "mean":
        ignore_index = -100  # all ignored: 0/0 on both engines
    weight = data.draw(values((c,), 0.5, 2.0)) if weighted else None
    ours_w = None if weight is None else minigrad.tensor(weight)
    theirs_w = None if weight is None else torch.tensor(weight)
    ours_t, theirs_t = minigrad.tensor(labels), torch.tensor(labels)
    kwargs = dict(ignore_index=ignore_index, reduction=reduction)
    check(lambda x: F.cross_entropy(x, ours_t, ours_w, **kwargs), logits,
          torch_fn=lambda x: TF.cross_entropy(x, theirs_t, theirs_w, **kwargs))
    check(lambda x: F.nll_loss(x.log_softmax(1), ours_t, ours_w, **kwargs), logits,
          torch_fn=lambda x: TF.nll_loss(x.log_softmax(1), theirs_t, theirs_w, **kwargs))


@given(data=st.data(), c=st.integers(2, 5))
def test_cross_entropy_of_one_example_and_of_probabilities(data, c):
    logits = data.draw(values((c,)))
    label = data.draw(st.integers(0, c - 1))
    check(lambda x: F.cross_entropy(x, minigrad.tensor(label)), logits,
          torch_fn=lambda x: TF.cross_entropy(x, torch.tensor(label)))
    probabilities = np.random.default_rng(c).dirichlet(np.ones(c), size=3)
    batch = data.draw(values((3, c)))
    for smoothing in (0.0, 0.1):
        check(lambda x: F.cross_entropy(x, minigrad.tensor(probabilities), label_smoothing=smoothing), batch,
              torch_fn=lambda x: TF.cross_entropy(x, torch.tensor(probabilities), label_smoothing=smoothing))
    check_second_order(lambda x: F.cross_entropy(x, minigrad.tensor([1, 0, c - 1])), batch,
                       torch_fn=lambda x: TF.cross_entropy(x, torch.tensor([1, 0, c - 1])))


def test_loss_errors_like_pytorch():
    x = minigrad.zeros(2, 3)
    with pytest.raises(IndexError, match="Target 3 is out of bounds."):
        F.cross_entropy(x, minigrad.tensor([0, 3]))
    with pytest.raises(ValueError, match=r"Expected input batch_size \(2\) to match target batch_size \(3\)"):
        F.nll_loss(x, minigrad.tensor([0, 1, 2]))
    with pytest.raises(RuntimeError, match="expected scalar type Long but found Float"):
        F.nll_loss(x, minigrad.tensor([0.0, 1.0]))
    module = nn.CrossEntropyLoss(reduction="sum")
    assert module(x, minigrad.tensor([0, 1])).item() == pytest.approx(2 * np.log(3))


def test_dropout_scales_what_it_keeps_and_is_the_identity_in_eval():
    minigrad.manual_seed(0)
    x = minigrad.ones(20000, requires_grad=True)
    layer = nn.Dropout(0.3)
    y = layer(x)
    kept = y.detach().numpy() != 0
    assert abs(1 - kept.mean() - 0.3) < 0.015
    np.testing.assert_allclose(y.detach().numpy()[kept], 1 / 0.7)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.where(kept, 1 / 0.7, 0.0))
    layer.eval()
    assert layer(x) is x
    assert F.dropout(x, 0.0) is x and not F.dropout(x, 1.0).detach().numpy().any()
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"):
        nn.Dropout(1.5)


def test_one_hot_equals_pytorchs():
    labels = np.array([[0, 3], [2, 1]])
    for classes in (-1, 5):
        np.testing.assert_array_equal(F.one_hot(minigrad.tensor(labels), classes).numpy(),
                                      TF.one_hot(torch.tensor(labels), classes).numpy())
    with pytest.raises(RuntimeError, match="Class values must be smaller than num_classes"):
        F.one_hot(minigrad.tensor([4]), 3)


@pytest.mark.parametrize("make", [lambda nn_: nn_.ReLU(inplace=True), lambda nn_: nn_.LeakyReLU(0.1, inplace=True)])
def test_in_place_activations_after_a_layer_give_pytorchs_gradients(make):
    results = []
    for engine, nn_ in ((minigrad, nn), (torch, torch.nn)):
        engine.manual_seed(0)
        linear = nn_.Linear(3, 4).double()
        with engine.no_grad():
            linear.weight.copy_(engine.tensor(np.linspace(-1, 1, 12).reshape(4, 3)))
            linear.bias.fill_(0.1)
        x = engine.tensor([[0.5, -1.0, 2.0]], dtype=engine.float64, requires_grad=True)
        h = linear(x)
        out = make(nn_)(h)
        assert out is h and h._version == 1
        (out * engine.tensor([[1.0, 2.0, 3.0, 4.0]], dtype=engine.float64)).sum().backward()
        results.append((to_numpy(out), to_numpy(x.grad), to_numpy(linear.weight.grad)))
    for ours, theirs in zip(*results):
        assert_close(ours, theirs)


def test_module_list_dict_and_apply_like_pytorch():
    def build(nn_):
        class Net(nn_.Module):
            def __init__(self):
                super().__init__()
                self.blocks = nn_.ModuleList([nn_.Linear(2, 3), nn_.Linear(3, 3)])
                self.heads = nn_.ModuleDict({"a": nn_.Linear(3, 1), "b": nn_.Sequential(nn_.Linear(3, 2))})
                self.drop = nn_.Dropout(0.2)
        return Net()
    ours, theirs = build(nn), build(torch.nn)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [tuple(p.shape) for p in ours.parameters()] == [tuple(p.shape) for p in theirs.parameters()]
    visited = ([], [])
    ours.apply(lambda m: visited[0].append(type(m).__name__))
    theirs.apply(lambda m: visited[1].append(type(m).__name__))
    assert visited[0] == visited[1]
    ours.load_state_dict({k: minigrad.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    assert len(ours.blocks) == 2 and "b" in ours.heads and list(ours.heads.keys()) == ["a", "b"]


@given(data=st.data(), padding=st.sampled_from([None, 0, 2, -1]))
def test_embedding_equals_pytorchs(data, padding):
    table = data.draw(values((5, 3)))
    indices = np.array(data.draw(st.lists(st.integers(0, 4), min_size=1, max_size=8)))
    check(lambda w: F.embedding(minigrad.tensor(indices), w, padding_idx=padding), table,
          torch_fn=lambda w: TF.embedding(torch.tensor(indices), w, padding_idx=padding))
    layer = nn.Embedding(5, 3, padding_idx=2)
    assert layer.weight.shape == (5, 3) and not layer.weight.detach().numpy()[2].any()


@given(data=st.data(), h=st.integers(1, 5), w=st.integers(1, 5),
       resize=st.sampled_from([dict(scale_factor=2), dict(scale_factor=(3, 1)), dict(size=(7, 4)), dict(size=3),
                               dict(scale_factor=1.5)]))
def test_nearest_interpolation_equals_pytorchs(data, h, w, resize):
    x = data.draw(values((1, 2, h, w)))
    check(lambda t: F.interpolate(t, **resize), x, torch_fn=lambda t: TF.interpolate(t, **resize))
    if "scale_factor" in resize:
        factor = resize["scale_factor"]
        check(lambda t: nn.Upsample(scale_factor=factor)(t), x,
              torch_fn=lambda t: torch.nn.Upsample(scale_factor=factor)(t))
