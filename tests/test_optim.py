"""Optimisers against PyTorch over many steps, and their state_dict exchange."""
import numpy as np
import pytest
import torch
import torch.nn as tnn

import minigrad
import minigrad.nn as nn
from helpers import assert_close

OPTIMISERS = {
    "sgd": dict(cls="SGD", kwargs=dict(lr=0.01)),
    "sgd_momentum_wd": dict(cls="SGD", kwargs=dict(lr=0.05, momentum=0.9, weight_decay=0.01)),
    "sgd_nesterov": dict(cls="SGD", kwargs=dict(lr=0.05, momentum=0.5, nesterov=True)),
    "adam": dict(cls="Adam", kwargs=dict(lr=1e-3)),
    "adam_book_gan": dict(cls="Adam", kwargs=dict(lr=1e-4)),
    "adam_betas_wd": dict(cls="Adam", kwargs=dict(lr=0.01, betas=(0.5, 0.99), eps=1e-6, weight_decay=0.1)),
}


def models(dtype):
    torch.manual_seed(0)
    theirs = tnn.Sequential(tnn.Linear(6, 5), tnn.LeakyReLU(0.02), tnn.LayerNorm(5), tnn.Linear(5, 3),
                            tnn.Sigmoid()).to(dtype)
    ours = nn.Sequential(nn.Linear(6, 5), nn.LeakyReLU(0.02), nn.LayerNorm(5), nn.Linear(5, 3), nn.Sigmoid())
    ours.load_state_dict(theirs.state_dict())
    ours.to(np.dtype(str(dtype).replace("torch.", "")))
    return ours, theirs


@pytest.mark.parametrize("name", OPTIMISERS)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_optimiser_matches_pytorch_step_for_step(name, dtype):
    spec = OPTIMISERS[name]
    ours, theirs = models(dtype)
    opt_ours = getattr(minigrad.optim, spec["cls"])(ours.parameters(), **spec["kwargs"])
    opt_theirs = getattr(torch.optim, spec["cls"])(theirs.parameters(), **spec["kwargs"])
    np_dtype = np.float64 if dtype == torch.float64 else np.float32
    rng = np.random.default_rng(0)
    for step in range(200):
        x, y = rng.random((4, 6)).astype(np_dtype), rng.random((4, 3)).astype(np_dtype)
        for model, opt, mod, lib in ((ours, opt_ours, nn, minigrad), (theirs, opt_theirs, tnn, torch)):
            loss = mod.BCELoss()(model(lib.tensor(x)), lib.tensor(y))
            opt.zero_grad()
            loss.backward()
            opt.step()
    for (name_o, p_o), (name_t, p_t) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert name_o == name_t
        assert_close(p_o, p_t, np_dtype, f"{name} {name_o} after 200 steps", scale=1 if np_dtype == np.float32 else None)


@pytest.mark.parametrize("cls", ["SGD", "Adam"])
def test_state_dict_round_trip_continues_identically(cls):
    kwargs = dict(lr=0.01, momentum=0.9) if cls == "SGD" else dict(lr=0.01)
    ours, theirs = models(torch.float64)
    opt_ours = getattr(minigrad.optim, cls)(ours.parameters(), **kwargs)
    opt_theirs = getattr(torch.optim, cls)(theirs.parameters(), **kwargs)
    rng = np.random.default_rng(0)
    batches = [(rng.random((2, 6)), rng.random((2, 3))) for _ in range(20)]

    def train(model, opt, mod, lib, data):
        for x, y in data:
            loss = mod.MSELoss()(model(lib.tensor(x)), lib.tensor(y))
            opt.zero_grad()
            loss.backward()
            opt.step()

    train(ours, opt_ours, nn, minigrad, batches[:10])
    train(theirs, opt_theirs, tnn, torch, batches[:10])
    # hand minigrad's optimiser state to a fresh PyTorch optimiser and PyTorch's to a fresh minigrad one
    state = opt_ours.state_dict()
    assert set(state) == {"state", "param_groups"} and state["param_groups"][0]["params"] == list(range(6))
    fresh_theirs = getattr(torch.optim, cls)(theirs.parameters(), **kwargs)
    fresh_theirs.load_state_dict(_to_torch(state))
    fresh_ours = getattr(minigrad.optim, cls)(ours.parameters(), **kwargs)
    fresh_ours.load_state_dict(opt_theirs.state_dict())
    train(ours, fresh_ours, nn, minigrad, batches[10:])
    train(theirs, fresh_theirs, tnn, torch, batches[10:])
    for p_o, p_t in zip(ours.parameters(), theirs.parameters()):
        assert_close(p_o, p_t)


def _to_torch(state):
    convert = lambda v: torch.tensor(v.numpy()) if isinstance(v, minigrad.Tensor) else (
        torch.tensor(v) if not isinstance(v, (dict, list, tuple)) else v)
    return {"state": {i: {k: convert(v) for k, v in s.items()} for i, s in state["state"].items()},
            "param_groups": state["param_groups"]}


def test_zero_grad_sets_none_or_zeros():
    p = nn.Parameter(minigrad.ones(3))
    opt = minigrad.optim.SGD([p], lr=0.1)
    (p * 2).sum().backward()
    opt.zero_grad(set_to_none=False)
    assert p.grad.tolist() == [0, 0, 0]
    opt.zero_grad()
    assert p.grad is None


def test_optimiser_rejects_bad_arguments():
    with pytest.raises(ValueError, match="empty parameter list"):
        minigrad.optim.Adam([])
    with pytest.raises(ValueError, match="Invalid learning rate"):
        minigrad.optim.SGD([nn.Parameter(minigrad.ones(1))], lr=-1)
