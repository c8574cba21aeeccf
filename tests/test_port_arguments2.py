"""Arguments as PyTorch 2.13 takes them, batch 2: the legacy ``size_average``/``reduce`` of the classic losses
(functions and modules, PyTorch's positional order), ``weight=`` of mse/l1/huber losses, ``BatchNorm*d(bias=)``,
``Tensor.div_(rounding_mode=)`` and the accepted-but-inert ``force``/``non_blocking`` flags, ``permute(dims=)``,
``swapaxes(axis0=, axis1=)``, ``repeat_interleave(output_size=)``, ``gather(sparse_grad=)``, ``one_hot(input=)``,
linspace/logspace bit for bit, and ``vector_norm(ord=0)`` in the graph. Against PyTorch in float64 where it is
installed; gradchecks and errors without it."""

from __future__ import annotations

import warnings
from fractions import Fraction

import numpy as np
import pytest
from _lazy_torch import torch

import minigrad as mg
from minigrad import nn
from minigrad.nn import functional as F  # noqa: N812 - PyTorch's convention

RNG = np.random.default_rng(2013)
LEGACY = [(None, False), (False, None), (True, True), (False, False), (True, False)]


def _legacy_case(name: str):
    """(minigrad positional args, matching torch args) for ``name``, each loss's leading arguments in PyTorch's
    positional order up to (but without) size_average."""
    p, t = RNG.uniform(0.05, 0.95, (3, 4)), RNG.uniform(0.0, 1.0, (3, 4))
    x, y = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4))
    w4, idx = RNG.uniform(0.5, 2.0, 4), np.array([0, 3, 1])
    logp = np.log(RNG.dirichlet(np.ones(4), 3))
    return {
        "binary_cross_entropy": ((p, t, RNG.uniform(0.5, 2.0, (3, 4))), ()),
        "binary_cross_entropy_with_logits": ((x, t, RNG.uniform(0.5, 2.0, (3, 4))), ()),
        "cross_entropy": ((x, idx, w4), (-100,)),  # ignore_index sits between size_average and reduce
        "nll_loss": ((logp, idx, w4), (-100,)),
        "kl_div": ((logp, RNG.dirichlet(np.ones(4), 3)), ()),
        "l1_loss": ((x, y), ()),
        "mse_loss": ((x, y), ()),
        "smooth_l1_loss": ((x, y), ()),
    }[name]


def _pair(arrays):
    ours = [mg.tensor(a, requires_grad=i == 0) if a.dtype.kind == "f" else mg.tensor(a) for i, a in enumerate(arrays)]
    theirs = [torch.tensor(a, requires_grad=i == 0) for i, a in enumerate(arrays)]
    return ours, theirs


def _check_same(out, expected, ours, theirs):
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), rtol=1e-12, atol=1e-14)
    up = RNG.standard_normal(tuple(expected.shape))
    out.backward(mg.tensor(up))
    expected.backward(torch.tensor(up))
    np.testing.assert_allclose(ours[0].grad.numpy(), theirs[0].grad.numpy(), rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("name", ["binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy",
                                  "kl_div", "l1_loss", "mse_loss", "nll_loss", "smooth_l1_loss"])
def test_legacy_size_average_and_reduce_match_pytorch_positionally(name):
    arrays, middle = _legacy_case(name)
    for size_average, reduce in LEGACY:
        ours, theirs = _pair(arrays)
        with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
            out = getattr(F, name)(*ours, size_average, *middle, reduce)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = getattr(torch.nn.functional, name)(*theirs, size_average, *middle, reduce)
        _check_same(out, expected, ours, theirs)


def test_legacy_arguments_override_reduction_and_keep_batchmean_division():
    logp, t = np.log(RNG.dirichlet(np.ones(4), 3)), RNG.dirichlet(np.ones(4), 3)
    for size_average, reduce in LEGACY:
        ours, theirs = _pair((logp, t))
        with pytest.warns(UserWarning, match="deprecated"):
            out = F.kl_div(*ours, size_average, reduce, "batchmean")  # PyTorch still divides by the batch size
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = torch.nn.functional.kl_div(*theirs, size_average, reduce, "batchmean")
        _check_same(out, expected, ours, theirs)


def test_legacy_arguments_without_pytorch():
    x, y = mg.tensor(RNG.standard_normal((2, 3))), mg.tensor(RNG.standard_normal((2, 3)))
    for (size_average, reduce), reduction in zip(LEGACY, ["none", "sum", "mean", "none", "none"]):
        with pytest.warns(UserWarning, match=f"please use reduction='{reduction}' instead"):
            out = F.mse_loss(x, y, size_average, reduce, "mean")
        assert np.array_equal(out.numpy(), F.mse_loss(x, y, reduction=reduction).numpy())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no legacy argument: no warning
        F.l1_loss(x, y, reduction="sum")
    with pytest.raises(ValueError, match="mse_loss: reduction must be one of"):
        F.mse_loss(x, y, reduction="average")


MODULES = {  # PyTorch's positional arguments before size_average
    "BCELoss": (None,), "BCEWithLogitsLoss": (None,), "CrossEntropyLoss": (None,), "NLLLoss": (None,),
    "KLDivLoss": (), "L1Loss": (), "MSELoss": (), "SmoothL1Loss": (),
}


@pytest.mark.parametrize("name", list(MODULES))
def test_legacy_arguments_of_loss_modules_match_pytorch(name):
    lead = MODULES[name]
    for size_average, reduce in LEGACY:
        with pytest.warns(UserWarning, match="deprecated"):
            ours = getattr(nn, name)(*lead, size_average, *((-100,) if "NLL" in name or "Cross" in name else ()),
                                     reduce)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = getattr(torch.nn, name)(*lead, size_average, *((-100,) if "NLL" in name or "Cross" in name
                                                                    else ()), reduce)
        assert ours.reduction == theirs.reduction


def test_loss_modules_forward_with_legacy_and_keyword_arguments():
    x, t = mg.tensor(RNG.standard_normal((3, 4))), mg.tensor(np.array([1, 0, 3]))
    with pytest.warns(UserWarning, match="reduction='sum'"):
        summed = nn.CrossEntropyLoss(None, False, ignore_index=1)
    assert summed.reduction == "sum" and summed.ignore_index == 1
    assert np.allclose(summed(x, t).numpy(), F.cross_entropy(x, t, ignore_index=1, reduction="sum").numpy())
    assert nn.KLDivLoss(reduction="batchmean").reduction == "batchmean"
    assert nn.SmoothL1Loss(beta=0.5).beta == 0.5 and nn.NLLLoss(ignore_index=2).ignore_index == 2


# -- weight= of mse_loss, l1_loss, huber_loss -------------------------------------------------------------------
WEIGHTED = {"mse_loss": {}, "l1_loss": {}, "huber_loss": {"delta": 0.7}}


@pytest.mark.parametrize("name", list(WEIGHTED))
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_weight_matches_pytorch(name, reduction):
    x, y, w = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4)), RNG.uniform(0.0, 2.0, (3, 4))
    ours = [mg.tensor(a, requires_grad=True) for a in (x, y, w)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, y, w)]
    out = getattr(F, name)(ours[0], ours[1], reduction=reduction, weight=ours[2], **WEIGHTED[name])
    expected = getattr(torch.nn.functional, name)(theirs[0], theirs[1], reduction=reduction, weight=theirs[2],
                                                  **WEIGHTED[name])
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), rtol=1e-12)
    up = RNG.standard_normal(tuple(expected.shape))
    out.backward(mg.tensor(up))
    expected.backward(torch.tensor(up))
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("name", list(WEIGHTED))
def test_weight_gradcheck_and_errors(name):
    x = mg.tensor(RNG.standard_normal((2, 3)), requires_grad=True)
    y = mg.tensor(x.detach().numpy() + RNG.choice([-1, 1], (2, 3)) * RNG.uniform(0.2, 0.5, (2, 3)))  # off kinks
    w = mg.tensor(RNG.uniform(0.5, 2.0, (2, 3)), requires_grad=True)
    fn = getattr(F, name)
    for reduction in ("mean", "sum"):
        assert mg.gradcheck(lambda a, b, r=reduction: fn(a, y, reduction=r, weight=b), (x, w))
    unweighted = fn(x, y, reduction="none")
    assert np.allclose(fn(x, y, reduction="none", weight=w).detach().numpy(),
                       unweighted.detach().numpy() * w.detach().numpy())
    with pytest.raises(ValueError, match=rf"{name}: weight must have the input's shape \(2, 3\), got \(3,\)"):
        fn(x, y, weight=mg.ones(3))


# -- BatchNorm bias= --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls, shape", [("BatchNorm1d", (4, 3)), ("BatchNorm2d", (2, 3, 2, 2)),
                                        ("BatchNorm3d", (2, 3, 1, 2, 2))])
def test_batchnorm_without_bias_matches_pytorch(cls, shape):
    ours, theirs = getattr(nn, cls)(3, bias=False, dtype="float64"), getattr(torch.nn, cls)(3, bias=False,
                                                                                              dtype=torch.float64)
    assert ours.bias is None and theirs.bias is None
    assert list(ours.state_dict()) == list(theirs.state_dict())
    w = RNG.uniform(0.5, 2.0, 3)
    ours.weight.data = mg.tensor(w)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(w))
    x = RNG.standard_normal(shape)
    a, b = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, expected = ours(a), theirs(b)
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), rtol=1e-12, atol=1e-14)
    up = RNG.standard_normal(shape)
    out.backward(mg.tensor(up))
    expected.backward(torch.tensor(up))
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(ours.running_mean.numpy(), theirs.running_mean.numpy(), rtol=1e-12)


def test_batchnorm_bias_keyword_without_pytorch():
    bn = nn.BatchNorm2d(3, bias=False)
    assert [name for name, _ in bn.named_parameters()] == ["weight"]
    assert list(bn.state_dict()) == ["weight", "running_mean", "running_var", "num_batches_tracked"]
    bn.reset_parameters()  # no bias to zero
    assert np.array_equal(bn.weight.numpy(), np.ones(3, np.float32))
    assert list(nn.BatchNorm1d(3, affine=False, bias=False).state_dict()) == ["running_mean", "running_var",
                                                                              "num_batches_tracked"]
    assert nn.BatchNorm1d(3).bias is not None
    sync = nn.SyncBatchNorm.convert_sync_batchnorm(nn.Sequential(nn.BatchNorm1d(3, bias=False)))
    assert sync[0].bias is None and sync[0].weight is not None


# -- Tensor methods -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["trunc", "floor"])
@pytest.mark.parametrize("method", ["div_", "divide_"])
def test_inplace_division_with_rounding_mode_matches_pytorch(mode, method):
    for values, divisor in [(np.array([7, -7, 5, -3]), 2), (np.array([7.5, -7.5, 2.0, -0.5]), np.array(2.0))]:
        ours, theirs = mg.tensor(values), torch.tensor(values)
        getattr(ours, method)(divisor if np.ndim(divisor) == 0 and isinstance(divisor, int) else mg.tensor(divisor),
                              rounding_mode=mode)
        getattr(theirs, method)(divisor if isinstance(divisor, int) else torch.tensor(divisor), rounding_mode=mode)
        assert ours.dtype.name == str(theirs.dtype).removeprefix("torch.")
        assert np.array_equal(ours.numpy(), theirs.numpy())


def test_inplace_division_with_rounding_mode_without_pytorch():
    x = mg.tensor([7, -7])
    assert x.div_(2, rounding_mode="floor").tolist() == [3, -4] and x.dtype == mg.int64
    leaf = mg.tensor([1.5, -2.5], requires_grad=True)
    y = leaf * 1.0
    y.div_(mg.tensor([1.0, 1.0]), rounding_mode="trunc").sum().backward()
    assert leaf.grad.tolist() == [0.0, 0.0]  # piecewise constant, as PyTorch
    z = mg.tensor([1.0, 2.0])
    with pytest.raises(ValueError, match="rounding_mode must be None, 'trunc' or 'floor'"):
        z.div_(2, rounding_mode="round")
    assert z.tolist() == [1.0, 2.0]


def test_inert_flags_are_accepted():
    x = mg.tensor(RNG.standard_normal((2, 3)).astype(np.float32))
    assert np.array_equal(x.numpy(force=True), x.numpy())
    y = mg.zeros(2, 3)
    assert y.copy_(x, non_blocking=True) is y and np.array_equal(y.numpy(), x.numpy())
    assert x.to(mg.float64, non_blocking=True).dtype == mg.float64
    assert x.to("float64", True).dtype == mg.float64  # PyTorch's positional to(dtype, non_blocking)
    copied = x.to("float32", False, True)  # to(dtype, non_blocking, copy)
    assert copied is not x and np.array_equal(copied.numpy(), x.numpy())
    assert x.to("cpu", non_blocking=True) is x
    lin = nn.Linear(2, 2)
    assert lin.to("float64", non_blocking=True).weight.dtype == mg.float64
    assert lin.to("float32", True).weight.dtype == mg.float32
    try:
        expected = x.cuda()
    except Exception as exc:  # no CUDA backend here: the same error with the flags
        with pytest.raises(type(exc)):
            x.cuda(non_blocking=True)
    else:
        assert np.array_equal(x.cuda(0, non_blocking=True).numpy(), expected.numpy())


def test_keyword_names_match_pytorch():
    v = RNG.standard_normal((2, 3, 4))
    x, t = mg.tensor(v), torch.tensor(v)
    assert np.array_equal(x.permute(dims=(2, 0, 1)).numpy(), t.permute(dims=(2, 0, 1)).numpy())
    assert np.array_equal(mg.permute(x, dims=[1, 2, 0]).numpy(), torch.permute(t, dims=[1, 2, 0]).numpy())
    assert np.array_equal(x.swapaxes(axis0=0, axis1=2).numpy(), t.swapaxes(axis0=0, axis1=2).numpy())
    assert np.array_equal(mg.swapaxes(x, axis0=1, axis1=-1).numpy(), torch.swapaxes(t, axis0=1, axis1=-1).numpy())
    assert np.array_equal(x.swapdims(dim0=0, dim1=1).numpy(), t.swapdims(dim0=0, dim1=1).numpy())
    labels = np.array([0, 2, 1])
    assert np.array_equal(F.one_hot(input=mg.tensor(labels), num_classes=4).numpy(),
                          torch.nn.functional.one_hot(input=torch.tensor(labels), num_classes=4).numpy())


def test_keyword_forms_without_pytorch():
    x = mg.tensor(RNG.standard_normal((2, 3, 4)), requires_grad=True)
    assert x.permute(dims=(2, 0, 1)).shape == (4, 2, 3) and x.swapaxes(axis0=0, axis1=2).shape == (4, 3, 2)
    with pytest.raises(TypeError, match="permute: give the dimensions positionally or as dims=, not both"):
        x.permute(2, 0, 1, dims=(2, 0, 1))
    assert mg.gradcheck(lambda a: a.swapaxes(axis0=0, axis1=1), (x,))
    assert F.one_hot(input=mg.tensor([1, 0])).tolist() == [[0, 1], [1, 0]]


def test_repeat_interleave_output_size():
    x = mg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    counts = mg.tensor([1, 3])
    assert np.array_equal(x.repeat_interleave(counts, dim=1, output_size=4).detach().numpy(),
                          x.repeat_interleave(counts, dim=1).detach().numpy())
    assert x.repeat_interleave(2, output_size=8).shape == (8,)
    for call in (lambda: x.repeat_interleave(counts, dim=1, output_size=5),
                 lambda: x.repeat_interleave(2, dim=0, output_size=3)):
        with pytest.raises(RuntimeError, match="repeat_interleave: output_size is"):
            call()
    assert mg.repeat_interleave(mg.tensor([2, 0, 1]), output_size=3).tolist() == [0, 0, 2]
    assert mg.gradcheck(lambda a: a.repeat_interleave(counts, dim=0, output_size=4), (x.double(),))


def test_repeat_interleave_matches_pytorch():
    v, counts = RNG.standard_normal((3, 2)), np.array([2, 0, 1])
    assert np.array_equal(mg.tensor(v).repeat_interleave(mg.tensor(counts), dim=0, output_size=3).numpy(),
                          torch.tensor(v).repeat_interleave(torch.tensor(counts), dim=0, output_size=3).numpy())
    assert np.array_equal(mg.repeat_interleave(mg.tensor(counts)).numpy(),
                          torch.repeat_interleave(torch.tensor(counts)).numpy())
    with pytest.raises(RuntimeError):  # PyTorch refuses a wrong output_size too
        torch.tensor(v).repeat_interleave(2, dim=0, output_size=5)


def test_gather_sparse_grad():
    x = mg.tensor(RNG.standard_normal((2, 3)), requires_grad=True)
    index = mg.tensor([[0, 2], [1, 1]])
    assert np.array_equal(mg.gather(x, 1, index, sparse_grad=False).detach().numpy(),
                          x.gather(1, index).detach().numpy())
    with pytest.raises(NotImplementedError, match="gather: sparse_grad=True .* no sparse tensors"):
        x.gather(1, index, sparse_grad=True)


# -- linspace / logspace bit for bit ------------------------------------------------------------------------------
def _ranges(n: int, seed: int):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        a, b = rng.uniform(-100, 100, 2) * 10.0 ** rng.integers(-6, 6, 2)
        yield float(a), float(b), int(rng.choice([0, 1, 2, 3, 7, 8, 9, 16, 33, 100, 257]))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_linspace_and_logspace_are_pytorchs_bit_for_bit(dtype):
    for start, end, steps in _ranges(300, 1):
        ours = mg.linspace(start, end, steps, dtype=dtype).numpy()
        theirs = torch.linspace(start, end, steps, dtype=getattr(torch, dtype)).numpy()
        assert ours.dtype == theirs.dtype and ours.tobytes() == theirs.tobytes(), (start, end, steps)
    rng = np.random.default_rng(2)
    for _ in range(200):
        (start, end), steps = rng.uniform(-6, 6, 2), int(rng.integers(0, 60))
        base = float(rng.choice([10.0, 2.0, np.e, rng.uniform(0.1, 7.0)]))
        ours = mg.logspace(start, end, steps, base, dtype=dtype).numpy()
        theirs = torch.logspace(start, end, steps, base, dtype=getattr(torch, dtype)).numpy()
        assert ours.tobytes() == theirs.tobytes(), (start, end, steps, base)
    for start, end, steps in [(1e-30, 1.0, 100), (3.0, 1e-45, 100), (0.0, 1e-300, 50), (-1e38, 1e38, 11)]:
        assert (mg.linspace(start, end, steps, dtype=dtype).numpy().tobytes()
                == torch.linspace(start, end, steps, dtype=getattr(torch, dtype)).numpy().tobytes())


def test_linspace_is_one_fused_multiply_add_per_point_without_pytorch():
    # float64: each point rounded once from the exact start + step * i (the first half) or end - step * j.
    for start, end, steps in _ranges(60, 3):
        if steps < 2:
            continue
        step = (end - start) / (steps - 1)
        exact = [float(Fraction(start) + Fraction(step) * i) if i < steps // 2
                 else float(Fraction(end) - Fraction(step) * (steps - 1 - i)) for i in range(steps)]
        assert mg.linspace(start, end, steps, dtype="float64").tolist() == exact
    assert mg.linspace(0, 1, 0).shape == (0,) and mg.linspace(2, 3, 1).tolist() == [2.0]
    with pytest.raises(ValueError, match="linspace: steps must be an int >= 0, got -1"):
        mg.linspace(0, 1, -1)
    edges = mg.histogram(mg.tensor([0.0, 1.0]), 10)[1]  # histogram's edges are the same points
    assert edges.numpy().tobytes() == mg.linspace(0.0, 1.0, 11).numpy().tobytes()


# -- vector_norm(ord=0) ---------------------------------------------------------------------------------------------
def test_zero_norm_stays_in_the_graph_with_zero_gradient():
    v = np.array([[0.0, 1.5, np.inf], [2.0, 0.0, -3.0]])
    for call in (lambda a: mg.linalg.vector_norm(a, 0), lambda a: mg.linalg.vector_norm(a, 0, dim=1),
                 lambda a: mg.norm(a, p=0), lambda a: a.norm(p=0, dim=0, keepdim=True)):
        x = mg.tensor(v, requires_grad=True)
        out = call(x)
        assert out.grad_fn is not None
        out.backward(mg.tensor(RNG.standard_normal(out.shape)))
        assert np.array_equal(x.grad.numpy(), np.zeros((2, 3)))
    assert mg.linalg.vector_norm(mg.tensor(v), 0).grad_fn is None
    assert mg.linalg.vector_norm(mg.tensor(v), 0).item() == 4.0


def test_zero_norm_matches_pytorch():
    v = np.array([[0.0, 1.5, 2.0], [2.0, 0.0, -3.0]])
    x, t = mg.tensor(v, requires_grad=True), torch.tensor(v, requires_grad=True)
    ours, theirs = mg.linalg.vector_norm(x, 0, dim=1), torch.linalg.vector_norm(t, 0, dim=1)
    assert theirs.grad_fn is not None and ours.grad_fn is not None
    assert np.array_equal(ours.detach().numpy(), theirs.detach().numpy())
