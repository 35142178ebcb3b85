"""APIs a learner reaches for early, against PyTorch: gradient clipping (and with an optimiser,
step for step), SiLU/ELU/Softplus/LogSigmoid/LogSoftmax/Unflatten, L1 and smooth L1 losses,
BCE with logits with weight and pos_weight, cross-entropy with label smoothing, the mean of
targets that are all ignored, conv2d's padding='same'/'valid', BCELoss with a weight of
another dtype."""
import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, strategies as st

import minigrad
import minigrad.nn as nn
import minigrad.nn.functional as F
from helpers import assert_close, check, check_second_order, to_numpy, values


def engines():
    """(minigrad, its nn), (torch, its nn): for tests that run the same lines on both."""
    return (minigrad, nn), (torch, torch.nn)


# --- activations ---------------------------------------------------------------------------

ACTIVATIONS = {
    "silu": (F.silu, TF.silu),
    "elu": (F.elu, TF.elu),
    "elu_alpha": (lambda x: F.elu(x, alpha=0.3), lambda x: TF.elu(x, alpha=0.3)),
    "softplus": (F.softplus, TF.softplus),
    "softplus_beta": (lambda x: F.softplus(x, beta=2.5, threshold=4), lambda x: TF.softplus(x, beta=2.5, threshold=4)),
    "logsigmoid": (F.logsigmoid, TF.logsigmoid),
}


@pytest.mark.parametrize("name", ACTIVATIONS)
@given(data=st.data(), dtype=st.sampled_from([np.float64, np.float32]))
def test_activations_equal_pytorchs(name, data, dtype, device):
    ours, theirs = ACTIVATIONS[name]
    x = data.draw(values((3, 4), -8.0, 8.0))
    check(ours, x, torch_fn=theirs, dtype=dtype)
    if dtype == np.float64:
        check_second_order(ours, x, torch_fn=theirs)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activations_at_extremes_and_thresholds(name, device):
    """Far out, e^x overflows in some formulas: values, gradients and second derivatives stay
    PyTorch's (no NaN from an unused branch); and just either side of softplus's threshold."""
    ours, theirs = ACTIVATIONS[name]
    x = np.array([-1000.0, -710.0, -40.0, -1e-12, 0.0, 1e-12, 1.6, 1.6000001, 3.9999, 4.0001, 19.99, 20.0, 20.01,
                  40.0, 710.0, 1000.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no NumPy overflow warning reaches the user
        check(ours, x, torch_fn=theirs)
        check_second_order(ours, x, torch_fn=theirs)


@pytest.mark.parametrize("make", [
    lambda nn_: nn_.SiLU(), lambda nn_: nn_.SiLU(inplace=True), lambda nn_: nn_.ELU(), lambda nn_: nn_.ELU(0.5, True),
    lambda nn_: nn_.Softplus(), lambda nn_: nn_.Softplus(beta=2, threshold=10), lambda nn_: nn_.LogSigmoid(),
    lambda nn_: nn_.LogSoftmax(dim=1), lambda nn_: nn_.LogSoftmax(dim=-1), lambda nn_: nn_.Unflatten(1, (3, -1)),
])
def test_activation_modules_equal_pytorchs(make):
    """Same repr, values and gradients; an in-place module writes into its input (after a layer:
    not into a leaf) and the gradient still flows as in PyTorch."""
    x = np.linspace(-3, 3, 12).reshape(2, 6)
    results, reprs = [], []
    for engine, nn_ in engines():
        module = make(nn_)
        reprs.append(repr(module))
        leaf = engine.tensor(x, requires_grad=True)
        h = leaf * 1.5
        out = module(h)
        if getattr(module, "inplace", False):
            assert out is h and h._version == 1
        upstream = engine.tensor(np.cos(np.arange(out.numel())).reshape(tuple(out.shape)))
        (out * upstream).sum().backward()
        results.append((to_numpy(out), to_numpy(leaf.grad)))
    assert reprs[0] == reprs[1]
    for ours, theirs in zip(*results):
        assert_close(ours, theirs)


def test_in_place_activation_of_a_leaf_is_refused_like_pytorchs():
    for fn in (lambda x: F.silu(x, inplace=True), lambda x: F.elu(x, inplace=True)):
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
            fn(minigrad.ones(3, requires_grad=True))
    with pytest.raises(TypeError, match="expected a minigrad Tensor"):
        F.silu(np.ones(3))


def test_log_softmax_module_without_dim_warns_and_picks_pytorchs_dimension():
    x = np.linspace(-2, 2, 24).reshape(2, 3, 4)
    with pytest.warns(UserWarning, match="Implicit dimension choice for log_softmax"):
        ours = nn.LogSoftmax()(minigrad.tensor(x))
    with pytest.warns(UserWarning):
        theirs = torch.nn.LogSoftmax()(torch.tensor(x))
    assert_close(ours, theirs)


@pytest.mark.parametrize("dim, sizes", [(1, (3, 4)), (1, [2, -1]), (-1, (2, 2, 3)), (0, (1, 2)), (-2, (2, 1))])
def test_unflatten_equals_pytorchs(dim, sizes):
    check(lambda x: nn.Unflatten(dim, sizes)(x), np.arange(24.0).reshape(2, 12),
          torch_fn=lambda x: torch.nn.Unflatten(dim, sizes)(x))


def test_unflatten_errors_like_pytorch():
    x = minigrad.zeros(2, 12)
    with pytest.raises(RuntimeError, match=r"unflatten: Provided sizes \[2, 5\] don't multiply up to the size of "
                                           r"dim 1 \(12\) in the input tensor"):
        nn.Unflatten(1, (2, 5))(x)
    with pytest.raises(RuntimeError, match=r"Provided sizes \[5, -1\] don't multiply up"):
        nn.Unflatten(-1, (5, -1))(x)
    with pytest.raises(RuntimeError, match="unflatten: sizes must be non-empty"):
        nn.Unflatten(1, ())(x)
    with pytest.raises(RuntimeError, match="only one dimension can be inferred"):
        nn.Unflatten(1, (-1, -1))(x)
    with pytest.raises(IndexError, match=r"Dimension out of range \(expected to be in range of \[-2, 1\], but got 2\)"):
        nn.Unflatten(2, (3, 4))(x)
    with pytest.raises(TypeError, match="unflattened_size must be tuple of ints, but found element of type float at "
                                        "pos 0"):
        nn.Unflatten(1, (3.0, 4))
    with pytest.raises(TypeError, match="unflattened_size must be a tuple of ints, but found type int"):
        nn.Unflatten(1, 12)


# --- regression losses ---------------------------------------------------------------------

@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@given(data=st.data(), beta=st.sampled_from([0.0, 0.3, 1.0, 2.5]), dtype=st.sampled_from([np.float64, np.float32]))
def test_l1_and_smooth_l1_losses_equal_pytorchs(reduction, data, beta, dtype, device):
    x = data.draw(values((3, 4)))
    y = data.draw(values((3, 4)))
    y[0, 0] = x[0, 0]  # |d| = 0: sign 0, as in PyTorch
    y[0, 1] = x[0, 1] - beta  # on the boundary |d| = β
    check(lambda a, b: F.l1_loss(a, b, reduction), x, y,
          torch_fn=lambda a, b: TF.l1_loss(a, b, reduction=reduction), dtype=dtype)
    check(lambda a, b: F.smooth_l1_loss(a, b, reduction, beta), x, y,
          torch_fn=lambda a, b: TF.smooth_l1_loss(a, b, reduction=reduction, beta=beta), dtype=dtype)
    check(lambda a, b: nn.SmoothL1Loss(reduction=reduction, beta=beta)(a, b), x, y,
          torch_fn=lambda a, b: torch.nn.SmoothL1Loss(reduction=reduction, beta=beta)(a, b), dtype=dtype)
    check(lambda a, b: nn.L1Loss(reduction=reduction)(a, b), x, y,
          torch_fn=lambda a, b: torch.nn.L1Loss(reduction=reduction)(a, b), dtype=dtype)
    if dtype == np.float64:
        check_second_order(lambda a, b: F.smooth_l1_loss(a, b, reduction, beta), x, y,
                           torch_fn=lambda a, b: TF.smooth_l1_loss(a, b, reduction=reduction, beta=beta))
        check_second_order(lambda a, b: F.l1_loss(a, b, reduction), x, y,
                           torch_fn=lambda a, b: TF.l1_loss(a, b, reduction=reduction))


def test_l1_losses_broadcast_with_pytorchs_warning_and_errors():
    x, y = np.linspace(-1, 1, 6).reshape(3, 2), np.array([0.5, -0.25])
    for ours, theirs in ((F.l1_loss, TF.l1_loss), (F.smooth_l1_loss, TF.smooth_l1_loss)):
        with pytest.warns(UserWarning, match=r"Using a target size \(minigrad.Size\(\[2\]\)\) that is different to "
                                             r"the input size \(minigrad.Size\(\[3, 2\]\)\)"):
            warnings.filterwarnings("ignore", message=".*torch.Size")  # PyTorch's own, in its words
            check(ours, x, y, torch_fn=theirs)
        with pytest.raises(RuntimeError, match=r"The size of tensor a \(3\) must match the size of tensor b \(2\)"), \
                pytest.warns(UserWarning, match="Using a target size"):
            ours(minigrad.zeros(3), minigrad.zeros(2))
        with pytest.raises(ValueError, match="foo is not a valid value for reduction"):
            ours(minigrad.zeros(3), minigrad.zeros(3), reduction="foo")
    with pytest.raises(RuntimeError, match="smooth_l1_loss does not support negative values for beta."):
        F.smooth_l1_loss(minigrad.zeros(3), minigrad.zeros(3), beta=-1.0)


# --- BCE with logits: weight and pos_weight ------------------------------------------------

@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@given(data=st.data(), weighted=st.booleans(), positive=st.sampled_from([None, (4,), (3, 4), ()]),
       dtype=st.sampled_from([np.float64, np.float32]))
def test_bce_with_logits_weight_and_pos_weight_equal_pytorchs(reduction, data, weighted, positive, dtype, device):
    x = data.draw(values((3, 4), -30.0, 30.0))
    y = data.draw(values((3, 4), 0.0, 1.0))
    weight = data.draw(values((4,), 0.0, 2.0)) if weighted else None
    pos_weight = None if positive is None else data.draw(values(positive, 0.1, 5.0))

    def loss(functional, engine):
        """The loss of (x, y), weight and pos_weight constants (in x's dtype, on its device)."""
        def of(a, b):
            w, p = (None if v is None else engine.tensor(v.astype(dtype), device=a.device)
                    for v in (weight, pos_weight))
            return functional.binary_cross_entropy_with_logits(a, b, weight=w, reduction=reduction, pos_weight=p)
        return of

    check(loss(F, minigrad), x, y, torch_fn=loss(TF, torch), dtype=dtype, scale=10)
    if dtype == np.float64:
        check_second_order(loss(F, minigrad), x, y, torch_fn=loss(TF, torch))


def test_bce_with_logits_module_keeps_weights_as_buffers_like_pytorch():
    weight, pos_weight = np.array([1.0, 0.5, 2.0]), np.array([3.0, 1.0, 0.25])
    ours = nn.BCEWithLogitsLoss(weight=minigrad.tensor(weight), pos_weight=minigrad.tensor(pos_weight), reduction="sum")
    theirs = torch.nn.BCEWithLogitsLoss(weight=torch.tensor(weight), pos_weight=torch.tensor(pos_weight),
                                        reduction="sum")
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight", "pos_weight"]
    x, y = np.linspace(-3, 3, 6).reshape(2, 3), np.array([[0, 1, 1], [1, 0, 0.5]])
    check(ours, x, y, torch_fn=theirs)
    assert list(nn.CrossEntropyLoss(weight=minigrad.ones(3)).state_dict()) == \
        list(torch.nn.CrossEntropyLoss(weight=torch.ones(3)).state_dict()) == ["weight"]


def test_bce_with_logits_errors_like_pytorch():
    x = minigrad.zeros(3)
    with pytest.raises(ValueError, match=r"Target size \(minigrad.Size\(\[2\]\)\) must be the same as input size "
                                         r"\(minigrad.Size\(\[3\]\)\)"):
        F.binary_cross_entropy_with_logits(x, minigrad.zeros(2))
    for name in ("weight", "pos_weight"):
        with pytest.raises(RuntimeError, match=r"output with shape \[3\] doesn't match the broadcast shape \[2, 3\]"):
            F.binary_cross_entropy_with_logits(x, minigrad.zeros(3), **{name: minigrad.ones(2, 3)})
        with pytest.raises(RuntimeError, match=f"The function 'binary_cross_entropy_with_logits' is not differentiable "
                                               f"with respect to argument '{name}'. This input cannot have "
                                               "requires_grad True."):
            F.binary_cross_entropy_with_logits(x, minigrad.zeros(3), **{name: minigrad.ones(3, requires_grad=True)})
        with minigrad.no_grad():  # nothing is differentiated: taken, as in PyTorch
            F.binary_cross_entropy_with_logits(x, minigrad.zeros(3), **{name: minigrad.ones(3, requires_grad=True)})
    with pytest.raises(RuntimeError, match="The function 'binary_cross_entropy' is not differentiable with respect to "
                                           "argument 'weight'"):
        F.binary_cross_entropy(x, minigrad.zeros(3), weight=minigrad.ones(3, requires_grad=True))


def test_bce_with_logits_takes_a_weight_of_another_dtype_like_pytorch():
    x, y, w = np.linspace(-2, 2, 4), np.array([0.0, 1.0, 0.3, 1.0]), np.array([0.5, 1.5, 2.0, 0.1])
    for kind in ("weight", "pos_weight"):
        ours = F.binary_cross_entropy_with_logits(minigrad.tensor(x), minigrad.tensor(y),
                                                  **{kind: minigrad.tensor(w, dtype=minigrad.float32)})
        theirs = TF.binary_cross_entropy_with_logits(torch.tensor(x), torch.tensor(y),
                                                     **{kind: torch.tensor(w, dtype=torch.float32)})
        assert ours.dtype == np.float64
        assert_close(ours, theirs)


# --- BCELoss with a weight of another dtype ------------------------------------------------

def test_bce_loss_promotes_a_weight_of_another_dtype_like_pytorch():
    x, y, w = np.array([0.2, 0.7, 0.9]), np.array([0.0, 1.0, 0.4]), np.array([0.3, 1.7, 1.1])
    for x_dtype, w_dtype in ((np.float64, np.float32), (np.float32, np.float64), (np.float64, np.int64)):
        ours_x = minigrad.tensor(x.astype(x_dtype), requires_grad=True)
        theirs_x = torch.tensor(x.astype(x_dtype), requires_grad=True)
        weight = (w * 10).astype(w_dtype) if w_dtype == np.int64 else w.astype(w_dtype)
        ours = nn.BCELoss(weight=minigrad.tensor(weight))(ours_x, minigrad.tensor(y.astype(x_dtype)))
        theirs = torch.nn.BCELoss(weight=torch.tensor(weight))(theirs_x, torch.tensor(y.astype(x_dtype)))
        assert ours.dtype == np.dtype(x_dtype) and str(theirs.dtype) == f"torch.{np.dtype(x_dtype)}"
        ours.backward()
        theirs.backward()
        assert ours_x.grad.dtype == np.dtype(x_dtype)
        assert_close(ours, theirs, x_dtype)
        assert_close(ours_x.grad, theirs_x.grad, x_dtype)
    with pytest.raises(RuntimeError, match=r"output with shape \[3\] doesn't match the broadcast shape \[2, 3\]"):
        F.binary_cross_entropy(minigrad.tensor(x), minigrad.tensor(y),
                               weight=minigrad.ones(2, 3, dtype=minigrad.float64))


# --- cross-entropy: label smoothing, all targets ignored -----------------------------------

@given(data=st.data(), n=st.integers(1, 4), c=st.integers(2, 5), spatial=st.sampled_from([(), (3,), (2, 2)]),
       reduction=st.sampled_from(["mean", "sum", "none"]), weighted=st.booleans(), ignore=st.booleans(),
       smoothing=st.sampled_from([0.05, 0.3, 1.0]))
def test_cross_entropy_with_label_smoothing_equals_pytorchs(data, n, c, spatial, reduction, weighted, ignore,
                                                            smoothing):
    logits = data.draw(values((n, c) + spatial))
    size = n * int(np.prod(spatial))
    labels = np.array(data.draw(st.lists(st.integers(0, c - 1), min_size=size, max_size=size)),
                      dtype=np.int64).reshape((n,) + spatial)
    ignore_index = int(labels.flat[0]) if ignore else -100
    weight = data.draw(values((c,), 0.5, 2.0)) if weighted else None
    ours_w, theirs_w = (None, None) if weight is None else (minigrad.tensor(weight), torch.tensor(weight))
    kwargs = dict(ignore_index=ignore_index, reduction=reduction, label_smoothing=smoothing)
    ours_t, theirs_t = minigrad.tensor(labels), torch.tensor(labels)
    # where every target is ignored, both give NaN for 'mean' (checked below with its gradient)
    all_ignored = bool(np.all(labels == ignore_index)) and reduction == "mean"
    if not all_ignored:
        check(lambda x: F.cross_entropy(x, ours_t, ours_w, **kwargs), logits,
              torch_fn=lambda x: TF.cross_entropy(x, theirs_t, theirs_w, **kwargs))
        check(lambda x: nn.CrossEntropyLoss(ours_w, **kwargs)(x, ours_t), logits,
              torch_fn=lambda x: torch.nn.CrossEntropyLoss(theirs_w, **kwargs)(x, theirs_t))
        check_second_order(lambda x: F.cross_entropy(x, ours_t, ours_w, **kwargs), logits,
                           torch_fn=lambda x: TF.cross_entropy(x, theirs_t, theirs_w, **kwargs))


@given(data=st.data(), c=st.integers(2, 5))
def test_cross_entropy_with_label_smoothing_of_one_example(data, c):
    logits = data.draw(values((c,)))
    label = data.draw(st.integers(0, c - 1))
    check(lambda x: F.cross_entropy(x, minigrad.tensor(label), label_smoothing=0.2), logits,
          torch_fn=lambda x: TF.cross_entropy(x, torch.tensor(label), label_smoothing=0.2))


def test_label_smoothing_out_of_range_like_pytorch():
    x = minigrad.zeros(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match="label_smoothing must be between 0.0 and 1.0. Got: 1.5"):
        F.cross_entropy(x, minigrad.tensor([0, 1]), label_smoothing=1.5)
    # a negative one is ignored with class indices, as PyTorch does
    assert_close(F.cross_entropy(x, minigrad.tensor([0, 1]), label_smoothing=-0.5),
                 TF.cross_entropy(torch.zeros(2, 3), torch.tensor([0, 1]), label_smoothing=-0.5), np.float32)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("options", [dict(), dict(label_smoothing=0.2), dict(weight=[0.5, 1.0, 2.0]),
                                     dict(weight=[0.5, 1.0, 2.0], label_smoothing=0.1), dict(nll=True),
                                     dict(nll=True, weight=[0.5, 1.0, 2.0])])
@pytest.mark.parametrize("targets", [[-100, -100], [0, 0], [-100, 0]])
def test_targets_all_ignored_or_of_weight_zero_give_pytorchs_loss_and_gradient(reduction, options, targets):
    """Every target ignored: the mean is 0/0 = NaN, the gradient zeros, as in PyTorch (not NaN).
    Targets counted but of a class weighted 0 (here class 0, in the weight [0, 1, 1]): NaN
    gradients where PyTorch has them."""
    options = dict(options)
    nll = options.pop("nll", False)
    if targets != [-100, -100]:
        options["weight"] = [0.0, 1.0, 1.0]
    results = []
    for engine, functional in ((minigrad, F), (torch, TF)):
        x = engine.tensor(np.linspace(-1, 1, 6).reshape(2, 3), requires_grad=True)
        kwargs = dict(options, reduction=reduction)
        if "weight" in kwargs:
            kwargs["weight"] = engine.tensor(np.array(kwargs["weight"]))
        target = engine.tensor(targets)
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)  # no NumPy warning about the 0/0
            loss = functional.nll_loss(x.log_softmax(1), target, **kwargs) if nll else \
                functional.cross_entropy(x, target, **kwargs)
            loss.sum().backward()
        results.append((to_numpy(loss), to_numpy(x.grad)))
    (ours_loss, ours_grad), (theirs_loss, theirs_grad) = results
    np.testing.assert_allclose(ours_loss, theirs_loss, rtol=1e-12, atol=1e-14)  # NaN where PyTorch's is NaN
    np.testing.assert_allclose(ours_grad, theirs_grad, rtol=1e-12, atol=1e-14)


def test_cross_entropy_with_every_target_ignored_is_nan_with_zero_gradient():
    x = minigrad.zeros(2, 3, requires_grad=True)
    loss = F.cross_entropy(x, minigrad.tensor([-100, -100]))
    loss.backward()
    theirs = torch.zeros(2, 3, requires_grad=True)
    TF.cross_entropy(theirs, torch.tensor([-100, -100])).backward()
    assert math.isnan(loss.item())
    np.testing.assert_array_equal(x.grad.numpy(), theirs.grad.numpy())


# --- conv2d padding='same' / 'valid' -------------------------------------------------------

@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize("kernel, dilation", [((3, 3), 1), ((2, 2), 1), ((2, 3), 1), ((4, 1), (1, 2)), ((3, 2), 2),
                                              ((1, 1), 1), ((2, 2), (3, 1))])
@pytest.mark.parametrize("batched", [True, False])
def test_conv2d_string_padding_equals_pytorchs(padding, kernel, dilation, batched, device):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 7, 8) if batched else (3, 7, 8))
    w = rng.standard_normal((4, 3) + kernel)
    b = rng.standard_normal(4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # both warn about the padded copy where PyTorch does
        check(lambda x, w, b: F.conv2d(x, w, b, padding=padding, dilation=dilation), x, w, b,
              torch_fn=lambda x, w, b: TF.conv2d(x, w, b, padding=padding, dilation=dilation))
        check_second_order(lambda x, w: F.conv2d(x, w, padding=padding, dilation=dilation), x, w,
                           torch_fn=lambda x, w: TF.conv2d(x, w, padding=padding, dilation=dilation))
        if padding == "same":
            assert F.conv2d(minigrad.tensor(x), minigrad.tensor(w), padding="same", dilation=dilation).shape[-2:] == \
                x.shape[-2:]


def test_conv2d_same_warns_about_the_padded_copy_as_pytorch_does():
    x, w = minigrad.zeros(1, 1, 4, 4), minigrad.zeros(1, 1, 2, 2)
    with pytest.warns(UserWarning, match="Using padding='same' with even kernel lengths and odd dilation may require "
                                         "a zero-padded copy of the input be created"):
        F.conv2d(x, w, padding="same")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.conv2d(x, minigrad.zeros(1, 1, 3, 3), padding="same")  # symmetric: no copy, no warning


def test_conv2d_string_padding_errors_like_pytorch():
    x, w = minigrad.zeros(1, 2, 5, 5), minigrad.zeros(3, 2, 3, 3)
    with pytest.raises(RuntimeError, match="padding='same' is not supported for strided convolutions"):
        F.conv2d(x, w, stride=2, padding="same")
    with pytest.raises(RuntimeError, match="padding='same' is not supported for strided convolutions"):
        F.conv2d(x, w, stride=(1, 2), padding="same")
    with pytest.raises(RuntimeError, match="Invalid padding string: 'full'"):
        F.conv2d(x, w, padding="full")
    assert F.conv2d(x, w, stride=2, padding="valid").shape == (1, 3, 2, 2)
    with pytest.raises(ValueError, match="padding='same' is not supported for strided convolutions"):
        nn.Conv2d(2, 3, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="Invalid padding string 'full', should be one of"):
        nn.Conv2d(2, 3, 3, padding="full")
    with pytest.raises(NotImplementedError, match="padding_mode='zeros' only"):
        nn.Conv2d(2, 3, 3, padding="same", padding_mode="reflect")
    with pytest.raises(NotImplementedError, match="ConvTranspose2d takes padding as numbers"):
        nn.ConvTranspose2d(2, 3, 3, padding="same")


@pytest.mark.parametrize("padding, kernel, dilation", [("same", 3, 1), ("same", 4, 1), ("same", (2, 5), 2),
                                                        ("valid", 3, 1), ("valid", (2, 3), (2, 1))])
def test_conv2d_layer_with_string_padding_equals_pytorchs(padding, kernel, dilation):
    x = np.random.default_rng(1).standard_normal((2, 2, 6, 7))
    ours = nn.Conv2d(2, 3, kernel, padding=padding, dilation=dilation).double()
    theirs = torch.nn.Conv2d(2, 3, kernel, padding=padding, dilation=dilation).double()
    ours.load_state_dict(theirs.state_dict())
    assert repr(ours) == repr(theirs) and ours.padding == theirs.padding == padding
    inputs = minigrad.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        outs = ours(inputs[0]), theirs(inputs[1])
    assert_close(*outs)
    for out in outs:
        (out * out).sum().backward()
    assert_close(inputs[0].grad, inputs[1].grad)
    assert_close(ours.weight.grad, theirs.weight.grad)
    assert_close(ours.bias.grad, theirs.bias.grad)


# --- gradient clipping ---------------------------------------------------------------------

def _with_gradients(engine, arrays, dtype=np.float64, device="cpu"):
    """Parameters whose .grad is each array (None: no gradient)."""
    params = []
    for i, g in enumerate(arrays):
        shape = np.shape(g) if g is not None else (2,)
        p = engine.tensor(np.full(shape, 0.5 + i, dtype), requires_grad=True, device=device)
        if g is not None:
            p.grad = engine.tensor(np.asarray(g, dtype), device=device)
        params.append(p)
    return params


@pytest.mark.parametrize("norm_type", [2.0, 1, 3.5, 0.5, math.inf, -math.inf, 0, "inf"])
@pytest.mark.parametrize("max_norm", [0.01, 1.0, 1e6])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_clip_grad_norm_equals_pytorchs(norm_type, max_norm, dtype, device):
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal((3, 4)), None, rng.standard_normal(5) * 10, np.array(0.25),
              rng.standard_normal((2, 1))]
    arrays[0][1, 2] = 0.0
    ours, theirs = _with_gradients(minigrad, arrays, dtype, device), _with_gradients(torch, arrays, dtype)
    grads_before = [p.grad for p in ours]
    total_ours = nn.utils.clip_grad_norm_(ours, max_norm, norm_type)
    total_theirs = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert isinstance(total_ours, minigrad.Tensor) and total_ours.shape == () and total_ours.dtype == np.dtype(dtype)
    assert total_ours.device.type == device
    assert_close(total_ours, total_theirs, dtype)
    for p, t, before in zip(ours, theirs, grads_before):
        assert p.grad is before  # changed in place, not replaced
        if t.grad is None:
            assert p.grad is None
        else:
            assert_close(p.grad, t.grad, dtype)


def test_clip_grad_norm_of_one_tensor_and_of_a_generator_like_pytorchs():
    g = np.array([[3.0, -4.0], [1.0, 2.0]])
    ours, theirs = _with_gradients(minigrad, [g])[0], _with_gradients(torch, [g])[0]
    assert_close(nn.utils.clip_grad_norm_(ours, 2.0), torch.nn.utils.clip_grad_norm_(theirs, 2.0))
    assert_close(ours.grad, theirs.grad)
    version = ours.grad._version
    nn.utils.clip_grad_norm_((p for p in [ours]), 0.5, norm_type="inf")
    torch.nn.utils.clip_grad_norm_((p for p in [theirs]), 0.5, norm_type="inf")
    assert_close(ours.grad, theirs.grad)
    assert ours.grad._version == version + 1
    # nothing to clip: a float32 zero, as PyTorch's
    empty = nn.utils.clip_grad_norm_([], 1.0)
    assert empty.item() == 0.0 and empty.dtype == np.float32 == to_numpy(torch.nn.utils.clip_grad_norm_([], 1.0)).dtype
    no_grad = _with_gradients(minigrad, [None])
    assert nn.utils.clip_grad_norm_(no_grad, 1.0).item() == 0.0 and no_grad[0].grad is None
    with pytest.warns(UserWarning, match="`parameters` is an empty generator, no gradient clipping will occur."):
        nn.utils.clip_grad_norm_((p for p in []), 1.0)


def test_clip_grad_norm_of_non_finite_gradients_like_pytorchs():
    for bad in (np.inf, np.nan):
        arrays = [np.array([1.0, bad]), np.array([2.0])]
        ours, theirs = _with_gradients(minigrad, arrays), _with_gradients(torch, arrays)
        with pytest.raises(RuntimeError, match=r"The total norm of order 2.0 for gradients from `parameters` is "
                                               r"non-finite, so it cannot be clipped. To disable this error and scale "
                                               r"the gradients by the non-finite norm anyway, set "
                                               r"`error_if_nonfinite=False`"):
            nn.utils.clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
        total = nn.utils.clip_grad_norm_(ours, 1.0)
        np.testing.assert_array_equal(to_numpy(total), to_numpy(torch.nn.utils.clip_grad_norm_(theirs, 1.0)))
        for p, t in zip(ours, theirs):
            np.testing.assert_array_equal(to_numpy(p.grad), to_numpy(t.grad))


@pytest.mark.parametrize("clip_value", [0.3, 2, 10.0])
def test_clip_grad_value_equals_pytorchs(clip_value, device):
    rng = np.random.default_rng(5)
    arrays = [rng.standard_normal((3, 4)) * 2, None, np.array([np.nan, -np.inf, 0.1])]
    ours, theirs = _with_gradients(minigrad, arrays, device=device), _with_gradients(torch, arrays)
    grads_before = [p.grad for p in ours]
    assert nn.utils.clip_grad_value_(ours, clip_value) is None
    torch.nn.utils.clip_grad_value_(theirs, clip_value)
    for p, t, before in zip(ours, theirs, grads_before):
        assert p.grad is before
        if t.grad is None:
            assert p.grad is None
        else:
            np.testing.assert_array_equal(to_numpy(p.grad), to_numpy(t.grad))
    single = _with_gradients(minigrad, [np.array([-5.0, 5.0])])[0]
    nn.utils.clip_grad_value_(single, 1)
    np.testing.assert_array_equal(single.grad.numpy(), [-1.0, 1.0])


def _mlp(nn_):
    return nn_.Sequential(nn_.Linear(5, 8), nn_.SiLU(), nn_.Linear(8, 8), nn_.ELU(), nn_.Linear(8, 2))


@pytest.mark.parametrize("clip", ["norm", "norm_inf", "value"])
@pytest.mark.parametrize("optimiser", [("Adam", dict(lr=0.05)), ("SGD", dict(lr=0.1, momentum=0.9))])
def test_training_with_clipping_equals_pytorchs_step_for_step(clip, optimiser):
    """Clipped gradients are what the optimiser reads: minigrad's Adam gathers every p.grad into
    one flat buffer each step (minigrad.accel.flat), so the in-place clipping must be seen
    there; parameters are compared after every step."""
    torch.manual_seed(0)
    theirs = _mlp(torch.nn).double()
    ours = _mlp(nn)
    ours.load_state_dict(theirs.state_dict())
    ours.to(minigrad.float64)
    name, kwargs = optimiser
    opt_ours = getattr(minigrad.optim, name)(ours.parameters(), **kwargs)
    opt_theirs = getattr(torch.optim, name)(theirs.parameters(), **kwargs)
    rng = np.random.default_rng(0)
    max_norm, norm_type = (0.05, 2.0) if clip == "norm" else (0.01, math.inf)
    clipped_steps = 0
    for step in range(8):
        x, y = rng.standard_normal((16, 5)), rng.standard_normal((16, 2)) * 3
        totals = []
        for model, opt, lib in ((ours, opt_ours, minigrad), (theirs, opt_theirs, torch)):
            utils = nn.utils if lib is minigrad else torch.nn.utils
            functional = F if lib is minigrad else TF
            opt.zero_grad()
            functional.smooth_l1_loss(model(lib.tensor(x)), lib.tensor(y), beta=0.5).backward()
            if clip == "value":
                utils.clip_grad_value_(model.parameters(), 0.05)
            else:
                totals.append(utils.clip_grad_norm_(model.parameters(), max_norm, norm_type=norm_type))
            opt.step()
        if totals:
            assert_close(*totals, what=f"total norm at step {step}")
            clipped_steps += float(totals[1]) > max_norm
        for (key, p), (_, t) in zip(ours.named_parameters(), theirs.named_parameters()):
            assert_close(p, t, what=f"{key} after step {step}")
    assert clip == "value" or clipped_steps >= 4  # the clipping did change the steps
    if name == "Adam" and minigrad.accel.ENABLED:  # the flat buffers were in use, and saw the clipping
        assert all(p.array.base is not None for p in ours.parameters())
