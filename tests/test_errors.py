"""Bad input gets a clear error that names the problem, like PyTorch's."""
import numpy as np
import pytest

import minigrad
import minigrad.nn as nn


def test_matmul_shape_mismatch_names_both_shapes():
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(1x784 and 200x10\)"):
        minigrad.zeros(1, 784) @ minigrad.zeros(200, 10)


def test_linear_shape_mismatch_names_both_shapes():
    layer = nn.Linear(784, 200)
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(1x100 and 784x200\)"):
        layer(minigrad.zeros(1, 100))


def test_broadcast_failure_names_sizes_and_dimension():
    with pytest.raises(RuntimeError, match=r"size of tensor a \(3\) must match the size of tensor b \(4\) "
                                           r"at non-singleton dimension 1"):
        minigrad.zeros(2, 3) + minigrad.zeros(2, 4)


def test_backward_on_non_scalar_needs_a_gradient():
    x = minigrad.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        (x * 2).backward()


def test_backward_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        minigrad.ones(1).sum().backward()


def test_dtype_mismatch_in_matmul_is_named():
    with pytest.raises(RuntimeError, match="same dtype"):
        minigrad.zeros(2, 2) @ minigrad.zeros(2, 2, dtype=minigrad.float64)


def test_cuda_without_a_gpu_is_a_clear_error():
    if minigrad.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(RuntimeError, match="CUDA was requested"):
        minigrad.zeros(2, device="cuda")
    with pytest.raises(RuntimeError, match="CUDA was requested"):
        nn.Linear(2, 2).to("cuda")


def test_view_with_wrong_size():
    with pytest.raises(RuntimeError, match=r"shape '\[3, 5\]' is invalid for input of size 12"):
        minigrad.zeros(3, 4).view(3, 5)


def test_item_of_many_elements():
    with pytest.raises(RuntimeError, match="a Tensor with 3 elements cannot be converted to Scalar"):
        minigrad.zeros(3).item()


def test_numpy_of_a_tensor_that_requires_grad():
    with pytest.raises(RuntimeError, match=r"Use tensor.detach\(\).numpy\(\)"):
        minigrad.zeros(3, requires_grad=True).numpy()


def test_in_place_on_a_leaf_that_requires_grad():
    w = minigrad.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        w[0] = 1.0


def test_loss_shapes_must_match():
    """BCE refuses a differently shaped target; MSE, as in PyTorch, warns and tries to broadcast."""
    with pytest.raises(ValueError, match=r"target size \(\[2\]\) that is different to the input size \(\[3\]\)"):
        nn.BCELoss()(minigrad.zeros(3), minigrad.zeros(2))
    with pytest.warns(UserWarning), pytest.raises(RuntimeError, match=r"tensor a \(3\) must match .* b \(2\)"):
        nn.MSELoss()(minigrad.zeros(3), minigrad.zeros(2))


def test_bce_input_outside_0_1():
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        nn.BCELoss()(minigrad.tensor([1.5]), minigrad.tensor([1.0]))


def test_load_state_dict_lists_missing_unexpected_and_mismatched():
    model = nn.Sequential(nn.Linear(3, 2), nn.Sigmoid(), nn.Linear(2, 1))
    state = model.state_dict()
    state["0.weight"] = np.zeros((5, 5))
    del state["2.bias"]
    state["extra"] = np.zeros(1)
    with pytest.raises(RuntimeError) as info:
        model.load_state_dict(state)
    message = str(info.value)
    assert 'Unexpected key(s) in state_dict: "extra"' in message
    assert 'Missing key(s) in state_dict: "2.bias"' in message
    assert "size mismatch for 0.weight: copying a param with shape [5, 5]" in message
    assert "the shape in current model is [2, 3]" in message


def test_cat_size_mismatch():
    with pytest.raises(RuntimeError, match="Sizes of tensors must match except in dimension 0"):
        minigrad.cat((minigrad.zeros(2, 3), minigrad.zeros(2, 4)))


def test_unknown_reduction():
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        nn.MSELoss(reduction="average")(minigrad.zeros(1), minigrad.zeros(1))


def test_normalisation_parameters_of_another_dtype_are_refused_like_pytorch():
    """PyTorch does not promote here ("mixed dtype"); silently computing in float64 would not match it."""
    F = nn.functional
    x = minigrad.zeros(4, 3, 5)
    with pytest.raises(RuntimeError, match="layer_norm: expected weight to have the input's dtype float32, "
                                           "but got float64"):
        F.layer_norm(x, (5,), minigrad.ones(5, dtype=minigrad.float64))
    with pytest.raises(RuntimeError, match="batch_norm: expected running_mean to have the input's dtype"):
        F.batch_norm(x, minigrad.zeros(3, dtype=minigrad.float64), minigrad.ones(3, dtype=minigrad.float64),
                     training=True)
    with pytest.raises(RuntimeError, match="expected running_mean to have the input's dtype float64"):
        nn.BatchNorm1d(3)(x.double())


def test_batch_norm_needs_both_running_estimates_or_neither():
    with pytest.raises(RuntimeError, match="running_mean and running_var must either both be None or neither"):
        nn.functional.batch_norm(minigrad.zeros(4, 3), minigrad.zeros(3), None, training=True)


def test_layer_norm_parameters_must_have_the_normalized_shape():
    with pytest.raises(RuntimeError, match=r"Expected weight to be of same shape as normalized_shape, but got "
                                           r"weight of shape \[1\] and normalized_shape = \[6\]"):
        nn.functional.layer_norm(minigrad.zeros(2, 6), (6,), minigrad.ones(1))
    with pytest.raises(RuntimeError, match=r"bias of shape \[2, 3\]"):
        nn.functional.layer_norm(minigrad.zeros(2, 6), (6,), None, minigrad.zeros(2, 3))


def test_another_librarys_gpu_array_needs_cupy():
    class DeviceArray:  # what a torch CUDA tensor or a numba array shows
        __cuda_array_interface__ = {"shape": (2,), "typestr": "<f4", "data": (0, False), "version": 3}
    if minigrad.cuda.is_available():
        pytest.skip("CuPy and a GPU are here: the array would be read from the device")
    with pytest.raises(RuntimeError, match="CUDA was requested"):
        minigrad.tensor(DeviceArray())


def test_bce_refuses_targets_outside_0_1_and_another_dtype_like_pytorch():
    F = nn.functional
    for bad in (2.0, -0.5, float("nan")):  # PyTorch's CPU kernel checks the target too
        with pytest.raises(RuntimeError, match="all elements of target should be between 0 and 1"):
            F.binary_cross_entropy(minigrad.tensor([0.5]), minigrad.tensor([bad]))
    with pytest.raises(RuntimeError, match="expected target to have the input's dtype float32, but got float64"):
        nn.BCELoss()(minigrad.tensor([0.5]), minigrad.tensor([1.0], dtype=minigrad.float64))
