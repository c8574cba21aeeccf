"""Convolution and pooling in the forms PyTorch scripts use besides (N, C, ...) with zero padding: unbatched
inputs ((C, H, W) for the 2-D ops, (C, L) for conv1d, (C, D, H, W) for conv3d) and ``padding_mode``
"reflect", "replicate" and "circular" on Conv1d/2d/3d. Against PyTorch in float64 (values and every gradient
under a random upstream gradient), finite differences, and the errors."""

from __future__ import annotations

import numpy as np
import pytest
from _lazy_torch import torch

import minigrad as mg
from minigrad import nn
from minigrad.nn import functional as F  # noqa: N812 - PyTorch's convention

RNG = np.random.default_rng(2031)


def _agree(ours, theirs, arrays):
    """ours(*tensors) and theirs(*tensors) on the same float64 arrays: equal outputs (and second outputs, such as
    pooling indices) and equal gradients of every input under a random upstream gradient."""
    xs = [mg.tensor(a, dtype=mg.float64, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, expected = ours(*xs), theirs(*ts)
    if isinstance(expected, tuple):
        assert np.array_equal(out[1].numpy(), expected[1].numpy())
        out, expected = out[0], expected[0]
    assert tuple(out.shape) == tuple(expected.shape)
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-12, atol=1e-12)
    up = RNG.standard_normal(tuple(expected.shape))
    out.backward(mg.tensor(up))
    expected.backward(torch.tensor(up))
    for x, t in zip(xs, ts):
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-11, atol=1e-12)


UNBATCHED = {  # name: (function of (mg or torch functional module, *tensors), input shapes)
    "conv1d": (lambda f, x, w, b: f.conv1d(x, w, b, padding=1), [(4, 7), (3, 4, 3), (3,)]),
    "conv2d": (lambda f, x, w, b: f.conv2d(x, w, b, stride=2, padding=1), [(4, 6, 6), (3, 4, 3, 3), (3,)]),
    "conv2d-same": (lambda f, x, w: f.conv2d(x, w, padding="same"), [(2, 5, 5), (3, 2, 2, 2)]),
    "conv3d": (lambda f, x, w: f.conv3d(x, w), [(2, 4, 4, 4), (3, 2, 3, 3, 3)]),
    "max_pool2d": (lambda f, x: f.max_pool2d(x, 2, return_indices=True), [(4, 6, 6)]),
    "max_pool2d-padded": (lambda f, x: f.max_pool2d(x, 3, 2, 1, ceil_mode=True), [(3, 7, 7)]),
    "avg_pool2d": (lambda f, x: f.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False), [(4, 6, 6)]),
    "unfold": (lambda f, x: f.unfold(x, 2, stride=2, padding=1), [(4, 6, 6)]),
    "fold": (lambda f, x: f.fold(x, (6, 6), 2, stride=2), [(16, 9)]),
}


@pytest.mark.parametrize("name", list(UNBATCHED))
def test_unbatched_inputs_match_pytorch(name):
    fn, shapes = UNBATCHED[name]
    _agree(lambda *t: fn(F, *t), lambda *t: fn(torch.nn.functional, *t), [RNG.standard_normal(s) for s in shapes])


@pytest.mark.parametrize("name", ["conv2d", "max_pool2d", "avg_pool2d", "unfold", "fold", "conv1d"])
def test_unbatched_is_the_batch_of_one(name):
    """The unbatched form equals the batched one with the batch axis dropped (no PyTorch needed)."""
    fn, shapes = UNBATCHED[name]
    arrays = [RNG.standard_normal(s) for s in shapes]
    ones = fn(F, *[mg.tensor(a) for a in arrays])
    batched = fn(F, mg.tensor(arrays[0][None]), *[mg.tensor(a) for a in arrays[1:]])
    ones, batched = (ones[0], batched[0]) if isinstance(ones, tuple) else (ones, batched)
    assert np.array_equal(ones.numpy(), batched.numpy()[0])


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("dims", [1, 2, 3])
def test_padding_modes_match_pytorch(dims, mode):
    cls = {1: "Conv1d", 2: "Conv2d", 3: "Conv3d"}[dims]
    padding = {1: 2, 2: (1, 2), 3: (1, 0, 1)}[dims]
    ours = getattr(nn, cls)(3, 2, 3, padding=padding, padding_mode=mode, dtype=mg.float64)
    theirs = getattr(torch.nn, cls)(3, 2, 3, padding=padding, padding_mode=mode, dtype=torch.float64)
    x = RNG.standard_normal((2, 3) + (5,) * dims)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.weight.numpy()))
        theirs.bias.copy_(torch.tensor(ours.bias.numpy()))
    _agree(lambda t: ours(t), lambda t: theirs(t), [x])
    _agree(lambda t: ours(t), lambda t: theirs(t), [x[0]])  # unbatched too
    w_ours = ours.weight.grad.numpy()  # accumulated over the two calls, like PyTorch's
    np.testing.assert_allclose(w_ours, theirs.weight.grad.numpy(), rtol=1e-11)
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("mode", ["reflect", "circular"])
def test_same_padding_with_a_mode_and_an_even_kernel_matches_pytorch(mode):
    ours = nn.Conv2d(2, 3, (2, 4), padding="same", padding_mode=mode, dtype=mg.float64)
    theirs = torch.nn.Conv2d(2, 3, (2, 4), padding="same", padding_mode=mode, dtype=torch.float64)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.weight.numpy()))
        theirs.bias.copy_(torch.tensor(ours.bias.numpy()))
    _agree(lambda t: ours(t), lambda t: theirs(t), [RNG.standard_normal((2, 2, 5, 6))])


def test_padding_mode_gradcheck():
    conv = nn.Conv2d(2, 2, 3, padding=1, padding_mode="reflect", dtype=mg.float64)
    x = mg.tensor(RNG.standard_normal((2, 5, 4)), requires_grad=True)  # unbatched, through F.pad and conv2d
    assert mg.gradcheck(lambda x, w, b: F.conv2d(F.pad(x, (1, 1, 1, 1), "reflect"), w, b), (x, conv.weight, conv.bias))
    y = conv(x)
    assert mg.gradcheck(lambda t: conv(t), (x,)) and y.shape == (2, 5, 4)


def test_errors():
    with pytest.raises(ValueError, match=r"Conv2d: padding_mode must be one of .*got 'mirror'"):
        nn.Conv2d(2, 2, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="Conv1d: padding='same' is not supported for strided convolutions"):
        nn.Conv1d(2, 2, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match=r"Conv3d: kernel_size must be an int or a tuple of 3 ints"):
        nn.Conv3d(2, 2, (3, 3))
    with pytest.raises(mg.ShapeError, match=r"max_pool2d: expected a 3-D \(C, H, W\) or 4-D"):
        F.max_pool2d(mg.randn(6, 6), 2)
    with pytest.raises(mg.ShapeError, match=r"conv1d: expected a 2-D \(C, L\) or 3-D"):
        F.conv1d(mg.randn(6), mg.randn(2, 1, 3))
