"""Convolutions and batch normalisation against PyTorch: forward values and every gradient
on random geometries (kernel, stride, padding, dilation, output padding, channels, batch,
odd image sizes), running statistics, initialisation, errors, and the book's three CNN
stacks end to end with weights exchanged through state_dict.  Tests taking ``device`` run
on the CPU and, where CuPy sees a GPU, on CUDA too (see conftest.py)."""
import contextlib
import math

import numpy as np
import pytest
import torch
import torch.nn as tnn
import torch.nn.functional as TF
from hypothesis import assume, given, strategies as st

import minigrad
import minigrad.nn as nn
import minigrad.nn.functional as F
from helpers import assert_close, check, dtypes, values

small = st.integers(1, 3)
# the engine's im2col, and minigrad.accel's faster lowerings (skipped with MINIGRAD_ACCEL=0)
LOWERINGS = ["im2col"] + [pytest.param(kind, marks=pytest.mark.skipif(not minigrad.accel.ENABLED,
                                                                      reason="minigrad.accel is off"))
                          for kind in ("phase-windows", "phase-products", "gather")]


@contextlib.contextmanager
def lowering(kind):
    """Force one lowering of every convolution, so that each is checked on either device: the
    engine's im2col, im2col from phase images or products per phase (the CPU's), or index plans (the GPU's)."""
    if not minigrad.accel.ENABLED:  # the engine's own, the only one
        yield
        return
    from minigrad.accel import convolution
    convolution.forced = kind
    try:
        yield
    finally:
        convolution.forced = None


@st.composite
def geometries(draw, transposed=False):
    """Kernel, stride, padding, dilation (and output padding) per dimension, as ints when
    both dimensions agree (PyTorch accepts either)."""
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (draw(small), draw(small))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    # PyTorch: output padding must be smaller than either the stride or the dilation
    output_padding = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))

    def arg(pair):
        return pair[0] if pair[0] == pair[1] and draw(st.booleans()) else pair
    geometry = dict(stride=arg(stride), padding=arg(padding), dilation=arg(dilation))
    if transposed:
        geometry["output_padding"] = arg(output_padding)
    return kernel, geometry


def _image_size(data, kernel, geometry, transposed):
    sizes = []
    for dim in (0, 1):
        pick = lambda name: geometry[name] if isinstance(geometry[name], int) else geometry[name][dim]
        reach = pick("dilation") * (kernel[dim] - 1) + 1
        smallest = 1 if transposed else max(1, reach - 2 * pick("padding"))
        sizes.append(data.draw(st.integers(smallest, smallest + 6)))
    return tuple(sizes)


@given(data=st.data(), geometry=geometries(), batch=small, channels=small, out_channels=small,
       bias=st.booleans(), unbatched=st.booleans(), dtype=dtypes)
@pytest.mark.parametrize("way", LOWERINGS)
def test_conv2d_against_pytorch(device, way, data, geometry, batch, channels, out_channels, bias, unbatched, dtype):
    kernel, kwargs = geometry
    h, w = _image_size(data, kernel, kwargs, transposed=False)
    shape = (channels, h, w) if unbatched else (batch, channels, h, w)
    arrays = [data.draw(values(shape)), data.draw(values((out_channels, channels) + kernel))]
    if bias:
        arrays.append(data.draw(values((out_channels,))))
    with lowering(way):
        check(lambda *t: F.conv2d(*t, **kwargs), *arrays, torch_fn=lambda *t: TF.conv2d(*t, **kwargs), dtype=dtype)


@given(data=st.data(), geometry=geometries(transposed=True), batch=small, channels=small, out_channels=small,
       bias=st.booleans(), unbatched=st.booleans(), dtype=dtypes)
@pytest.mark.parametrize("way", LOWERINGS)
def test_conv_transpose2d_against_pytorch(device, way, data, geometry, batch, channels, out_channels, bias, unbatched,
                                          dtype):
    kernel, kwargs = geometry
    h, w = _image_size(data, kernel, kwargs, transposed=True)
    out = nn.conv_transpose2d_output_size((h, w), kernel, **kwargs)
    assume(min(out) > 0)
    shape = (channels, h, w) if unbatched else (batch, channels, h, w)
    arrays = [data.draw(values(shape)), data.draw(values((channels, out_channels) + kernel))]
    if bias:
        arrays.append(data.draw(values((out_channels,))))
    with lowering(way):
        check(lambda *t: F.conv_transpose2d(*t, **kwargs), *arrays,
              torch_fn=lambda *t: TF.conv_transpose2d(*t, **kwargs), dtype=dtype)


@pytest.mark.skipif(not minigrad.accel.ENABLED, reason="minigrad.accel is off")
@pytest.mark.parametrize("numbers", [1, 720])
def test_col2im_in_chunks_of_channels(numbers, monkeypatch):
    """accel's phase lowering does col2im a few channels at a time (``SCATTER_CHUNK_NUMBERS``);
    the book's small images fit in one chunk, so here chunks are made small: one channel each
    (``numbers`` = 1), or two (720: the convolution's 5 channels as 2 + 2 + 1).  The same sums
    as one chunk for all (BLAS may round the smaller products differently in the last bit),
    and PyTorch's values; an empty batch too."""
    from minigrad.accel import convolution
    rng = np.random.default_rng(1)
    cases = [(F.conv2d, TF.conv2d, rng.standard_normal((2, 5, 9, 8)), rng.standard_normal((4, 5, 3, 3))),
             (F.conv_transpose2d, TF.conv_transpose2d, rng.standard_normal((2, 5, 4, 5)),
              rng.standard_normal((5, 4, 3, 3))),
             (F.conv2d, TF.conv2d, np.zeros((0, 5, 9, 8)), rng.standard_normal((4, 5, 3, 3)))]

    def run(op, x, w):
        x, w = minigrad.tensor(x, requires_grad=True), minigrad.tensor(w, requires_grad=True)
        with lowering("phase-windows"):
            y = op(x, w, stride=2, padding=1)
            (y * y).sum().backward()
        return y.detach().numpy(), x.grad.numpy(), w.grad.numpy()

    for op, torch_op, x, w in cases:
        whole = run(op, x, w)
        monkeypatch.setattr(convolution, "SCATTER_CHUNK_NUMBERS", numbers)
        chunked = run(op, x, w)
        monkeypatch.undo()
        tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
        ty = torch_op(tx, tw, stride=2, padding=1)
        (ty * ty).sum().backward()
        for ours, one_chunk, theirs in zip(chunked, whole, (ty, tx.grad, tw.grad)):
            np.testing.assert_allclose(ours, one_chunk, rtol=1e-14, atol=1e-14)
            assert_close(ours, theirs.detach())


def test_gradient_of_one_input_only():
    """Weight frozen (or input constant): only the gradients asked for are computed."""
    rng = np.random.default_rng(0)
    x = minigrad.tensor(rng.standard_normal((2, 3, 7, 6)), requires_grad=True)
    w = minigrad.tensor(rng.standard_normal((4, 3, 3, 2)))
    F.conv2d(x, w, stride=2).sum().backward()
    tx = torch.tensor(x.detach().numpy(), requires_grad=True)
    TF.conv2d(tx, torch.tensor(w.numpy()), stride=2).sum().backward()
    assert_close(x.grad, tx.grad)
    w.requires_grad_()
    y = F.conv_transpose2d(minigrad.tensor(rng.standard_normal((2, 4, 3, 3))), w, stride=2)
    y.sum().backward()
    assert w.grad is not None and w.grad.shape == w.shape


# --- batch normalisation ------------------------------------------------------------------------

@given(data=st.data(), batch=st.integers(1, 3), channels=small, spatial=st.sampled_from([(), (4,), (3, 2), (1, 1)]),
       affine=st.booleans(), dtype=dtypes)
def test_batch_norm_training_against_pytorch(device, data, batch, channels, spatial, affine, dtype):
    shape = (batch, channels) + spatial
    assume(batch * math.prod(spatial) > 1)  # more than one value per channel
    arrays = [data.draw(values(shape))]
    # a (nearly) constant channel has variance ≈ 0: 1/sqrt(var + eps) then multiplies
    # float32 rounding by ~300 and the engines' roundings (PyTorch fuses x·α + β) differ
    assume(arrays[0].std(axis=(0,) + tuple(range(2, len(shape)))).min() > 0.1)
    if affine:
        arrays += [data.draw(values((channels,))), data.draw(values((channels,)))]
    check(lambda *t: F.batch_norm(t[0], None, None, *t[1:], training=True),
          *arrays, torch_fn=lambda *t: TF.batch_norm(t[0], None, None, *t[1:], training=True), dtype=dtype)


@given(data=st.data(), batch=st.integers(1, 3), channels=small, dtype=dtypes)
def test_batch_norm_eval_against_pytorch(device, data, batch, channels, dtype):
    mean = data.draw(values((channels,)))
    var = data.draw(values((channels,), 0.5, 2.0))
    arrays = [data.draw(values((batch, channels, 3, 2))), data.draw(values((channels,))),
              data.draw(values((channels,)))]
    ours = (minigrad.tensor(mean.astype(dtype), device=device), minigrad.tensor(var.astype(dtype), device=device))
    theirs = (torch.tensor(mean.astype(dtype)), torch.tensor(var.astype(dtype)))
    check(lambda x, w, b: F.batch_norm(x, *ours, w, b, training=False),
          *arrays, torch_fn=lambda x, w, b: TF.batch_norm(x, *theirs, w, b, training=False), dtype=dtype)


@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
@pytest.mark.parametrize("kind, shape", [("BatchNorm2d", (1, 3, 5, 4)), ("BatchNorm2d", (4, 3, 2, 3)),
                                         ("BatchNorm1d", (5, 3)), ("BatchNorm1d", (2, 3, 4))])
def test_running_statistics_follow_pytorch(device, kind, shape, momentum):
    """Several training passes (biased variance to normalise, unbiased for the running
    estimate, momentum None = cumulative average), then evaluation with the estimates."""
    ours, theirs = getattr(nn, kind)(3, momentum=momentum).double(), getattr(tnn, kind)(3, momentum=momentum).double()
    ours.to(device)
    with torch.no_grad():
        theirs.weight.uniform_(0.5, 1.5)
        theirs.bias.uniform_(-1, 1)
    ours.load_state_dict(theirs.state_dict())
    rng = np.random.default_rng(1)
    for step in range(4):
        x = rng.standard_normal(shape) * (step + 1) + step
        assert_close(ours(minigrad.tensor(x, device=device)), theirs(torch.tensor(x)), what=f"training output {step}")
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        assert_close(ours.state_dict()[name], theirs.state_dict()[name], what=name)
    assert ours.num_batches_tracked.dtype == np.int64 and ours.num_batches_tracked.item() == 4
    ours.eval(), theirs.eval()
    x = rng.standard_normal(shape)
    check(lambda t: ours(t), x, torch_fn=lambda t: theirs(t))  # eval output and its input gradient
    assert ours.num_batches_tracked.item() == 4


def test_batch_norm_state_dict_matches_pytorch_keys_and_round_trips():
    ours, theirs = nn.BatchNorm2d(4), tnn.BatchNorm2d(4)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == [
        "weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    assert [n for n, _ in ours.named_parameters()] == ["weight", "bias"]
    assert repr(ours) == repr(theirs)
    assert repr(nn.BatchNorm2d(3, momentum=None, affine=False)) == repr(tnn.BatchNorm2d(3, momentum=None, affine=False))
    theirs.train()(torch.randn(2, 4, 3, 3) * 3 + 1)
    ours.load_state_dict(theirs.state_dict())
    assert ours.num_batches_tracked.item() == 1
    back = tnn.BatchNorm2d(4)
    back.load_state_dict({k: torch.from_numpy(np.array(v.numpy())) for k, v in ours.state_dict().items()})
    assert torch.equal(back.running_var, theirs.running_var)


def test_batch_norm_without_running_stats_or_affine():
    ours, theirs = nn.BatchNorm2d(2, affine=False, track_running_stats=False), tnn.BatchNorm2d(
        2, affine=False, track_running_stats=False)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == []
    x = np.random.default_rng(2).standard_normal((1, 2, 3, 3))
    ours.eval(), theirs.eval()  # no running statistics: batch statistics even in evaluation
    check(lambda t: ours(t), x, torch_fn=lambda t: theirs(t))


def test_batch_norm_needs_more_than_one_value_per_channel():
    with pytest.raises(ValueError, match=r"Expected more than 1 value per channel when training, "
                                         r"got input size minigrad.Size\(\[1, 3, 1, 1\]\)"):
        nn.BatchNorm2d(3)(minigrad.zeros(1, 3, 1, 1))
    with pytest.raises(ValueError, match=r"expected 4D input \(got 3D input\)"):
        nn.BatchNorm2d(3)(minigrad.zeros(2, 3, 5))
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D input\)"):
        nn.BatchNorm1d(3)(minigrad.zeros(2, 3, 5, 5))
    with pytest.raises(RuntimeError, match="running_mean should contain 4 elements not 3"):
        F.batch_norm(minigrad.zeros(2, 4, 5, 5), minigrad.zeros(3), minigrad.ones(3), training=True)


# --- layers: shapes, initialisation, errors --------------------------------------------------------

def test_output_sizes_of_the_books_cnns():
    assert [nn.conv2d_output_size(28, 5, 2), nn.conv2d_output_size(12, 3, 2)] == [12, 5]  # MNIST: View(250)
    sizes = [128]
    for _ in range(3):  # CelebA discriminator: Conv2d(…, 8, 2) three times
        sizes.append(nn.conv2d_output_size(sizes[-1], 8, 2))
    assert sizes == [128, 61, 27, 10]
    sizes = [11]
    for padding in (0, 0, 1):  # CelebA generator: ConvTranspose2d(…, 8, 2), the last with padding=1
        sizes.append(nn.conv_transpose2d_output_size(sizes[-1], 8, 2, padding=padding))
    assert sizes == [11, 28, 62, 128]
    assert nn.conv2d_output_size((28, 20), (5, 3), stride=(2, 1), padding=(0, 1), dilation=(1, 2)) == (12, 18)
    assert nn.conv_transpose2d_output_size(4, 3, 2, 1, output_padding=1) == 8
    # the layers agree with their formulas
    assert nn.Conv2d(3, 2, 8, 2)(minigrad.zeros(1, 3, 128, 128)).shape == (1, 2, 61, 61)
    assert nn.ConvTranspose2d(3, 2, 8, 2, padding=1)(minigrad.zeros(1, 3, 62, 62)).shape == (1, 2, 128, 128)


@pytest.mark.parametrize("make", [lambda nn_: nn_.Conv2d(6, 4, (3, 2)), lambda nn_: nn_.ConvTranspose2d(6, 4, 3, 2)])
def test_default_initialisation_follows_pytorch(make):
    """kaiming_uniform(a=√5) weight and U(±1/√fan_in) bias, fan_in from the weight's dim 1 × kernel
    (for ConvTranspose2d, whose weight is (in, out, kH, kW), that is out·kH·kW, as in PyTorch)."""
    minigrad.manual_seed(0)
    ours, theirs = make(nn), make(tnn)
    assert ours.weight.shape == tuple(theirs.weight.shape) and ours.bias.shape == tuple(theirs.bias.shape)
    fan_in = tnn.init._calculate_fan_in_and_fan_out(theirs.weight)[0]
    assert nn.init.calculate_fan_in_and_fan_out(ours.weight)[0] == fan_in
    bound = 1 / math.sqrt(fan_in)
    for p in (ours.weight, ours.bias):
        assert np.abs(p.detach().numpy()).max() <= bound
    assert np.abs(ours.weight.detach().numpy()).max() > 0.8 * bound  # spread over the whole range
    assert ours.weight.dtype == np.float32 and ours.weight.requires_grad
    assert repr(ours) == repr(theirs)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]


def test_layer_reprs_match_pytorch():
    for args, kwargs in [((1, 10, 5, 2), {}), ((1, 10, (5, 3)), dict(padding=1, dilation=2, bias=False))]:
        assert repr(nn.Conv2d(*args, **kwargs)) == repr(tnn.Conv2d(*args, **kwargs))
    assert repr(nn.ConvTranspose2d(256, 3, 8, 2, padding=1, output_padding=1)) == repr(
        tnn.ConvTranspose2d(256, 3, 8, 2, padding=1, output_padding=1))


def test_conv_transpose_output_size_argument():
    ours = nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1)
    theirs = tnn.ConvTranspose2d(2, 3, 3, stride=2, padding=1)
    ours.load_state_dict(theirs.state_dict())
    x = np.random.default_rng(3).standard_normal((1, 2, 4, 4)).astype(np.float32)
    out = ours(minigrad.tensor(x), output_size=[8, 8])
    assert out.shape == (1, 3, 8, 8)
    assert_close(out, theirs(torch.tensor(x), output_size=[8, 8]), np.float32)
    with pytest.raises(ValueError, match="requested an output size of"):
        ours(minigrad.tensor(x), output_size=(9, 9))


def test_errors_name_the_shapes_like_pytorch():
    conv = nn.Conv2d(1, 10, 5, 2)
    with pytest.raises(RuntimeError, match=r"Given groups=1, weight of size \[10, 1, 5, 5\], expected "
                                           r"input\[1, 3, 28, 28\] to have 1 channels, but got 3 channels instead"):
        conv(minigrad.zeros(1, 3, 28, 28))
    with pytest.raises(RuntimeError, match=r"Calculated padded input size per channel: \(4 x 4\). Kernel size: "
                                           r"\(5 x 5\). Kernel size can't be greater than actual input size"):
        conv(minigrad.zeros(1, 1, 4, 4))
    with pytest.raises(RuntimeError, match=r"Kernel size: \(7 x 7\)"):  # the dilated kernel
        F.conv2d(minigrad.zeros(1, 1, 6, 6), minigrad.zeros(2, 1, 3, 3), dilation=3)
    with pytest.raises(RuntimeError, match=r"Expected 3D \(unbatched\) or 4D \(batched\) input to conv2d, "
                                           r"but got input of size: \[28, 28\]"):
        conv(minigrad.zeros(28, 28))
    with pytest.raises(RuntimeError, match=r"Given transposed=1, weight of size \[3, 256, 8, 8\], expected "
                                           r"input\[1, 4, 11, 11\] to have 3 channels, but got 4 channels instead"):
        nn.ConvTranspose2d(3, 256, 8, 2)(minigrad.zeros(1, 4, 11, 11))
    with pytest.raises(RuntimeError, match=r"to conv_transpose2d, but got input of size: \[1, 1, 3, 11, 11\]"):
        nn.ConvTranspose2d(3, 256, 8, 2)(minigrad.zeros(1, 1, 3, 11, 11))
    with pytest.raises(RuntimeError, match=r"Output size is too small"):
        F.conv_transpose2d(minigrad.zeros(1, 3, 1, 1), minigrad.zeros(3, 2, 1, 1), padding=1)
    with pytest.raises(RuntimeError, match="output padding must be smaller than either stride or dilation"):
        nn.ConvTranspose2d(3, 2, 3, stride=2, output_padding=2)(minigrad.zeros(1, 3, 4, 4))
    with pytest.raises(RuntimeError, match=r"expected bias to be 1-dimensional with 10 elements, but got bias of "
                                           r"size \[3\] instead"):
        F.conv2d(minigrad.zeros(1, 1, 6, 6), minigrad.zeros(10, 1, 3, 3), minigrad.zeros(3))
    with pytest.raises(RuntimeError, match=r"Input type \(float64\) and weight type \(float32\) should be the same"):
        conv(minigrad.zeros(1, 1, 28, 28, dtype=minigrad.float64))
    with pytest.raises(RuntimeError, match="non-positive stride is not supported"):
        F.conv2d(minigrad.zeros(1, 1, 6, 6), minigrad.zeros(2, 1, 3, 3), stride=0)
    with pytest.raises(NotImplementedError, match="groups=1 only"):
        nn.Conv2d(4, 4, 3, groups=2)
    with pytest.raises(NotImplementedError, match="groups=1 only"):
        F.conv2d(minigrad.zeros(1, 4, 6, 6), minigrad.zeros(2, 2, 3, 3), groups=2)


# --- the book's CNN stacks, end to end ----------------------------------------------------------------

def view(nn_, *shape):
    """The book's View module, on either engine."""
    class View(nn_.Module):
        def forward(self, x):
            return x.view(*shape)
    return View()


def mnist_cnn_discriminator(nn_):
    return nn_.Sequential(nn_.Conv2d(1, 10, kernel_size=5, stride=2), nn_.LeakyReLU(0.02), nn_.BatchNorm2d(10),
                          nn_.Conv2d(10, 10, kernel_size=3, stride=2), nn_.LeakyReLU(0.02), nn_.BatchNorm2d(10),
                          view(nn_, 250), nn_.Linear(250, 10), nn_.Sigmoid())


def celeba_cnn_discriminator(nn_):
    return nn_.Sequential(nn_.Conv2d(3, 256, kernel_size=8, stride=2), nn_.BatchNorm2d(256), nn_.LeakyReLU(0.2),
                          nn_.Conv2d(256, 256, kernel_size=8, stride=2), nn_.BatchNorm2d(256), nn_.LeakyReLU(0.2),
                          nn_.Conv2d(256, 3, kernel_size=8, stride=2), nn_.LeakyReLU(0.2),
                          view(nn_, 3 * 10 * 10), nn_.Linear(3 * 10 * 10, 1), nn_.Sigmoid())


def celeba_cnn_generator(nn_):
    return nn_.Sequential(nn_.Linear(100, 3 * 11 * 11), nn_.LeakyReLU(0.2), view(nn_, 1, 3, 11, 11),
                          nn_.ConvTranspose2d(3, 256, kernel_size=8, stride=2), nn_.BatchNorm2d(256),
                          nn_.LeakyReLU(0.2),
                          nn_.ConvTranspose2d(256, 256, kernel_size=8, stride=2), nn_.BatchNorm2d(256),
                          nn_.LeakyReLU(0.2),
                          nn_.ConvTranspose2d(256, 3, kernel_size=8, stride=2, padding=1), nn_.BatchNorm2d(3),
                          nn_.Sigmoid())


@pytest.mark.parametrize("build, input_shape", [(mnist_cnn_discriminator, (1, 1, 28, 28)),
                                                (celeba_cnn_discriminator, (1, 3, 128, 128)),
                                                (celeba_cnn_generator, (100,))],
                         ids=["mnist-discriminator", "celeba-discriminator", "celeba-generator"])
@pytest.mark.parametrize("way", LOWERINGS)
def test_book_stack_matches_pytorch(device, way, build, input_shape):
    """Same weights (PyTorch's, through state_dict), same input, same upstream gradient:
    same output, parameter gradients, input gradient and running statistics, in float64."""
    torch.manual_seed(0)
    theirs = build(tnn).double()
    ours = build(nn).double().to(device)
    ours.load_state_dict(theirs.state_dict())
    rng = np.random.default_rng(4)
    x = rng.random(input_shape) if len(input_shape) == 4 else rng.standard_normal(input_shape)
    x_ours, x_theirs = minigrad.tensor(x, requires_grad=True, device=device), torch.tensor(x, requires_grad=True)
    with lowering(way):
        y_ours = ours(x_ours)
    y_theirs = theirs(x_theirs)
    assert_close(y_ours, y_theirs, what="output")
    upstream = rng.standard_normal(tuple(y_theirs.shape))
    y_ours.backward(minigrad.tensor(upstream, device=device))
    y_theirs.backward(torch.tensor(upstream))
    assert_close(x_ours.grad, x_theirs.grad, what="input gradient")
    theirs_params = dict(theirs.named_parameters())
    # a bias right before a BatchNorm has an exact gradient of 0, and both engines return rounding
    # noise there (~1e-13, each in its own order): such gradients are compared relative to the
    # network's largest gradient, every other one with the usual tolerance
    largest = max(float(p.grad.abs().max()) for p in theirs.parameters())
    for name, p in ours.named_parameters():
        noise = float(theirs_params[name].grad.abs().max()) <= 1e3 * np.finfo(float).eps * largest
        assert_close(p.grad, theirs_params[name].grad, what=f"gradient of {name}", scale=largest if noise else None)
    theirs_state = theirs.state_dict()
    for name, value in ours.state_dict().items():
        assert_close(value, theirs_state[name], what=name)


@given(n=st.integers(1, 2), channels=small, kernel=st.tuples(st.integers(1, 4), st.integers(1, 4)),
       stride=st.tuples(small, small), dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)),
       padded=st.tuples(st.integers(1, 12), st.integers(1, 12)))
def test_col2im_plan_lists_every_entry_that_lands_on_a_position(n, channels, kernel, stride, dilation, padded):
    """The col2im plan, built row by column, against the im2col plan inverted by sorting:
    each position lists exactly the entries that read it, in increasing order."""
    from minigrad.accel.convolution import _gather_plan, _scatter_plan
    out = tuple((p - d * (k - 1) - 1) // s + 1 for p, k, s, d in zip(padded, kernel, stride, dilation))
    assume(min(out) >= 1)
    geometry = (n, channels, padded, kernel, stride, dilation, out)
    target = _gather_plan(*geometry, None).reshape(-1)
    expected = [[] for _ in range(n * channels * padded[0] * padded[1])]
    for entry in np.argsort(target, kind="stable"):
        expected[target[entry]].append(entry)
    plan = _scatter_plan(*geometry, None)
    assert plan.shape == (len(expected), max(1, max(map(len, expected))))
    assert [list(row[row >= 0]) for row in plan] == expected


def test_batch_norm_of_an_empty_batch_in_evaluation(device):
    """Nothing to normalise: an empty output, and zero gradients for the weight and bias, as in PyTorch."""
    ours, theirs = nn.BatchNorm2d(3).double().to(device).eval(), tnn.BatchNorm2d(3).double().eval()
    x = minigrad.zeros(0, 3, 4, 4, dtype=minigrad.float64, device=device, requires_grad=True)
    ours(x).sum().backward()
    theirs(torch.zeros(0, 3, 4, 4, dtype=torch.float64, requires_grad=True)).sum().backward()
    assert x.grad.shape == (0, 3, 4, 4)
    assert_close(ours.weight.grad, theirs.weight.grad, what="weight gradient")
    assert_close(ours.bias.grad, theirs.bias.grad, what="bias gradient")
