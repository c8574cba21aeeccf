"""The margin, embedding and likelihood losses (functional and module forms) and the nn.Module API that ported
PyTorch scripts call (backward hooks, get_parameter/get_buffer, load_state_dict(assign=), type, cuda, ...):
against PyTorch in float64 (values, every differentiable input's gradient under a random upstream gradient,
every reduction), finite differences, and the errors."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.errors import ShapeError
from minigrad.nn import functional as F  # noqa: N812 - PyTorch's convention

RNG = np.random.default_rng(2027)
BACKENDS = mg.testing.available_backends()
TOL = 1e-10
REDUCTIONS = ["mean", "sum", "none"]


def _r(*shape):
    return RNG.standard_normal(shape)


def _signs(*shape):
    return np.where(RNG.random(shape) < 0.5, -1.0, 1.0)


def _compare(torch, ours, theirs, arrays, grads, backend="numpy"):
    """ours(*tensors) and theirs(*tensors) on the same float64 values: equal outputs and equal gradients of a
    random upstream gradient for the inputs flagged in ``grads``."""
    xs = [mg.tensor(a, backend=backend, requires_grad=g) for a, g in zip(arrays, grads)]
    ts = [torch.tensor(a, requires_grad=g) for a, g in zip(arrays, grads)]
    out, expected = ours(*xs), theirs(*ts)
    assert tuple(out.shape) == tuple(expected.shape)
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=TOL, atol=TOL)
    if not any(grads):
        return
    up = RNG.standard_normal(expected.shape)
    out.backward(mg.tensor(up, backend=backend))
    expected.backward(torch.tensor(up))
    for i, (x, t, g) in enumerate(zip(xs, ts, grads)):
        if g:
            np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=TOL, atol=TOL, err_msg=f"input {i}")


def _kw(fn, **fixed):
    return lambda *a: fn(*a, **fixed)


def _multilabel_target():
    return np.array([[3, 0, -1, 1], [0, 1, 2, 3], [-1, 0, 0, 0], [1, 1, -1, 2], [2, -1, 3, 3]])


# name: (arrays, differentiable flags in PyTorch, keyword arguments); F.<name> on both sides
CASES = {
    "margin_ranking_loss": (lambda: [_r(6), _r(6), _signs(6)], [True, True, True], {"margin": 0.3}),
    "margin_ranking_loss-broadcast": (lambda: [_r(4, 3), _r(1, 3), _signs(4, 1)], [True, True, True], {}),
    "hinge_embedding_loss": (lambda: [_r(4, 3), _signs(4, 3)], [True, False], {"margin": 0.7}),
    "hinge_embedding_loss-other-targets": (lambda: [_r(5), np.array([1.0, -1, 0, 2, 1])], [True, False], {}),
    "soft_margin_loss": (lambda: [_r(4, 3) * 5, _signs(4, 3)], [True, False], {}),
    "cosine_embedding_loss": (lambda: [_r(5, 3), _r(5, 3), _signs(5)], [True, True, False], {"margin": 0.2}),
    "cosine_embedding_loss-vectors": (lambda: [_r(3), _r(3), np.array(-1.0)], [True, True, False], {"margin": -0.5}),
    "triplet_margin_loss": (lambda: [_r(5, 3), _r(5, 3), _r(5, 3)], [True] * 3, {"margin": 2.0}),
    "triplet_margin_loss-p1-swap": (lambda: [_r(5, 3), _r(5, 3), _r(5, 3)], [True] * 3,
                                    {"margin": 1.5, "p": 1, "swap": True}),
    "triplet_margin_loss-p3-eps": (lambda: [_r(3), _r(3), _r(3)], [True] * 3, {"margin": 3.0, "p": 3, "eps": 1e-3}),
    "triplet_margin_with_distance_loss": (lambda: [_r(5, 3), _r(5, 3), _r(5, 3)], [True] * 3,
                                          {"margin": 2.0, "swap": True}),
    "multi_margin_loss": (lambda: [_r(6, 4), RNG.integers(0, 4, 6)], [True, False], {}),
    "multi_margin_loss-p2": (lambda: [_r(6, 4), RNG.integers(0, 4, 6)], [True, False], {"p": 2, "margin": 1.3}),
    "multi_margin_loss-weight": (lambda: [_r(6, 4), RNG.integers(0, 4, 6), RNG.random(4) + 0.5], [True, False, False],
                                 {}),
    "multi_margin_loss-vector": (lambda: [_r(4), np.array(2)], [True, False], {}),
    "multilabel_margin_loss": (lambda: [_r(5, 4), _multilabel_target()], [True, False], {}),
    "multilabel_margin_loss-vector": (lambda: [_r(4), np.array([2, 0, -1, 3])], [True, False], {}),
    "multilabel_soft_margin_loss": (lambda: [_r(4, 3), RNG.random((4, 3)), RNG.random(3)], [True, True, True], {}),
    "multilabel_soft_margin_loss-3d": (lambda: [_r(2, 4, 3), (RNG.random((2, 4, 3)) < 0.5) * 1.0], [True, True], {}),
    "poisson_nll_loss": (lambda: [_r(4, 3), RNG.random((4, 3)) * 4], [True, True], {}),
    "poisson_nll_loss-full": (lambda: [_r(4, 3), RNG.random((4, 3)) * 4], [True, True], {"full": True}),
    "poisson_nll_loss-probabilities": (lambda: [RNG.random((4, 3)) * 3, RNG.random((4, 3)) * 4], [True, True],
                                       {"log_input": False, "full": True, "eps": 1e-3}),
    "gaussian_nll_loss": (lambda: [_r(4, 3), _r(4, 3), RNG.random((4, 3))], [True] * 3, {}),
    "gaussian_nll_loss-short-var": (lambda: [_r(4, 3), _r(4, 3), RNG.random(4)], [True] * 3, {"full": True}),
    "gaussian_nll_loss-var-one-column": (lambda: [_r(4, 3), _r(4, 3), RNG.random((4, 1))], [True] * 3, {}),
    "gaussian_nll_loss-var-one-row": (lambda: [_r(4, 3), _r(4, 3), RNG.random((1, 3))], [True] * 3, {}),
    "gaussian_nll_loss-clamped": (lambda: [_r(4, 3), _r(4, 3), np.array([[0.5, 1e-8, 0.2]] * 4)], [True] * 3,
                                  {"eps": 1e-3}),
}


def _probabilities(shape):
    """Class probabilities along axis 1 of ``shape``."""
    p = RNG.random(shape) + 0.05
    return p / p.sum(1, keepdims=True)


CASES.update({  # cross_entropy with class probabilities as the target (soft labels, mixup), which also get gradients
    "cross_entropy-probabilities": (lambda: [_r(5, 4), _probabilities((5, 4))], [True, True], {}),
    "cross_entropy-probabilities-spatial": (lambda: [_r(2, 3, 4, 2), _probabilities((2, 3, 4, 2))], [True, True],
                                            {"label_smoothing": 0.15}),
    "cross_entropy-probabilities-weight": (lambda: [_r(5, 4), _probabilities((5, 4)), RNG.random(4) + 0.5],
                                           [True, True, False], {"label_smoothing": 0.1}),
    "cross_entropy-probabilities-unbatched": (lambda: [_r(4), _probabilities((1, 4))[0]], [True, True], {}),
})
WEIGHTED = {"multi_margin_loss-weight", "multilabel_soft_margin_loss", "cross_entropy-probabilities-weight"}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", list(CASES))
def test_losses_match_pytorch(name, reduction):
    torch = pytest.importorskip("torch")
    make, grads, kwargs = CASES[name]
    fn = name.split("-")[0]
    kwargs = {**kwargs, "reduction": reduction}
    ours, theirs = getattr(F, fn), getattr(torch.nn.functional, fn)
    if name in WEIGHTED:
        _compare(torch, lambda x, t, w: ours(x, t, weight=w, **kwargs), lambda x, t, w: theirs(x, t, weight=w,
                                                                                                   **kwargs),
                 make(), grads)
    else:
        _compare(torch, _kw(ours, **kwargs), _kw(theirs, **kwargs), make(), grads)


@pytest.mark.parametrize("kwargs", [{}, {"p": 1.0, "eps": 0.0}, {"p": 3.0, "keepdim": True}])
def test_pairwise_distance_matches_pytorch(kwargs):
    torch = pytest.importorskip("torch")
    _compare(torch, lambda a, b: F.pairwise_distance(a, b, **kwargs),
             lambda a, b: torch.nn.functional.pairwise_distance(a, b, **kwargs), [_r(5, 3), _r(1, 3)], [True, True])
    _compare(torch, nn.PairwiseDistance(**kwargs), torch.nn.PairwiseDistance(**kwargs), [_r(3), _r(3)], [True, True])


def test_gaussian_nll_loss_float_var_matches_pytorch():
    torch = pytest.importorskip("torch")
    for reduction in REDUCTIONS:
        _compare(torch, lambda x, t, r=reduction: F.gaussian_nll_loss(x, t, 0.7, reduction=r),
                 lambda x, t, r=reduction: torch.nn.functional.gaussian_nll_loss(x, t, 0.7, reduction=r),
                 [_r(4, 3), _r(1, 3)], [True, True])


def test_triplet_margin_with_a_custom_distance_matches_pytorch():
    torch = pytest.importorskip("torch")
    _compare(torch, lambda a, p, n: F.triplet_margin_with_distance_loss(
                 a, p, n, distance_function=lambda u, v: 1 - F.cosine_similarity(u, v), margin=1.5),
             lambda a, p, n: torch.nn.functional.triplet_margin_with_distance_loss(
                 a, p, n, distance_function=lambda u, v: 1 - torch.nn.functional.cosine_similarity(u, v),
                 margin=1.5),
             [_r(5, 3), _r(5, 3), _r(5, 3)], [True] * 3)


MODULES = [
    ("MarginRankingLoss", {"margin": 0.2}, lambda: [_r(5), _r(5), _signs(5)], [True, True, True]),
    ("HingeEmbeddingLoss", {"margin": 0.5}, lambda: [_r(5), _signs(5)], [True, False]),
    ("SoftMarginLoss", {}, lambda: [_r(5), _signs(5)], [True, False]),
    ("CosineEmbeddingLoss", {"margin": 0.1}, lambda: [_r(4, 3), _r(4, 3), _signs(4)], [True, True, False]),
    ("TripletMarginLoss", {"margin": 1.5, "p": 1.0, "swap": True}, lambda: [_r(4, 3), _r(4, 3), _r(4, 3)],
     [True] * 3),
    ("TripletMarginWithDistanceLoss", {"margin": 1.5}, lambda: [_r(4, 3), _r(4, 3), _r(4, 3)], [True] * 3),
    ("MultiMarginLoss", {"p": 2, "margin": 0.8}, lambda: [_r(5, 3), RNG.integers(0, 3, 5)], [True, False]),
    ("MultiLabelMarginLoss", {}, lambda: [_r(5, 4), _multilabel_target()], [True, False]),
    ("MultiLabelSoftMarginLoss", {}, lambda: [_r(5, 4), RNG.random((5, 4))], [True, True]),
    ("PoissonNLLLoss", {"log_input": False, "full": True}, lambda: [RNG.random(6) + 0.1, RNG.random(6) * 4],
     [True, True]),
    ("GaussianNLLLoss", {"full": True, "eps": 1e-2}, lambda: [_r(4, 3), _r(4, 3), RNG.random((4, 1))], [True] * 3),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(("name", "kwargs", "make", "grads"), MODULES, ids=[m[0] for m in MODULES])
def test_loss_modules_match_pytorch(name, kwargs, make, grads, reduction, backend):
    torch = pytest.importorskip("torch")
    ours, theirs = getattr(nn, name)(**kwargs, reduction=reduction), getattr(torch.nn, name)(**kwargs,
                                                                                               reduction=reduction)
    assert repr(ours) == repr(theirs)
    _compare(torch, ours, theirs, make(), grads, backend)


def test_weighted_loss_modules_hold_their_weight_as_a_buffer():
    torch = pytest.importorskip("torch")
    w = RNG.random(4) + 0.5
    for name in ("MultiMarginLoss", "MultiLabelSoftMarginLoss"):
        ours, theirs = getattr(nn, name)(weight=mg.tensor(w)), getattr(torch.nn, name)(weight=torch.tensor(w))
        assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
        target = RNG.integers(0, 4, 5) if name == "MultiMarginLoss" else RNG.random((5, 4))
        _compare(torch, ours, theirs, [_r(5, 4), target], [True, False])


def test_legacy_size_average_and_reduce_map_to_reduction_as_pytorch():
    torch = pytest.importorskip("torch")
    x, t = _r(5), _signs(5)
    for size_average, reduce in [(None, False), (False, None), (False, True), (True, True), (True, False)]:
        with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated") as ours_warnings:
            ours = F.soft_margin_loss(mg.tensor(x), mg.tensor(t), size_average, reduce)
            module = nn.SoftMarginLoss(size_average, reduce)
        with pytest.warns(UserWarning) as theirs_warnings:
            theirs = torch.nn.functional.soft_margin_loss(torch.tensor(x), torch.tensor(t), size_average, reduce)
            theirs_module = torch.nn.SoftMarginLoss(size_average, reduce)
        assert [str(w.message) for w in ours_warnings] == [str(w.message) for w in theirs_warnings]
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=TOL, atol=TOL)
        assert module.reduction == theirs_module.reduction


@pytest.mark.parametrize("name", ["margin_ranking_loss", "soft_margin_loss", "multilabel_soft_margin_loss",
                                  "poisson_nll_loss", "gaussian_nll_loss", "cosine_embedding_loss",
                                  "triplet_margin_loss", "multi_margin_loss", "multilabel_margin_loss"])
def test_losses_gradcheck(name):
    """Finite differences in float64 (values away from the hinges' kinks), reduction 'none' under a random
    upstream weighting, so every element's gradient is checked on its own."""
    x = mg.tensor(_r(4, 3))
    args = {
        "margin_ranking_loss": lambda: (x, mg.tensor(_r(4, 3) + 0.3), mg.tensor(_signs(4, 3))),
        "soft_margin_loss": lambda: (x, mg.tensor(_signs(4, 3))),
        "multilabel_soft_margin_loss": lambda: (x, mg.tensor(RNG.random((4, 3))), mg.tensor(RNG.random(3))),
        "poisson_nll_loss": lambda: (x, mg.tensor(RNG.random((4, 3)) * 3 + 1.2)),
        "gaussian_nll_loss": lambda: (x, mg.tensor(_r(4, 3)), mg.tensor(RNG.random(4) + 0.2)),
        "cosine_embedding_loss": lambda: (x, mg.tensor(_r(4, 3)), mg.tensor(_signs(4))),
        "triplet_margin_loss": lambda: (x, mg.tensor(_r(4, 3)), mg.tensor(_r(4, 3))),
        "multi_margin_loss": lambda: (mg.tensor(np.arange(12.0).reshape(4, 3) * 0.37 % 2.2),
                                      mg.tensor(np.array([0, 2, 1, 2]))),
        "multilabel_margin_loss": lambda: (mg.tensor(np.arange(12.0).reshape(4, 3) * 0.37 % 2.2),
                                           mg.tensor(np.array([[0, 2, -1], [1, -1, 0], [2, 1, 0], [-1, 0, 0]]))),
    }[name]()
    kwargs = {"full": True} if name in ("poisson_nll_loss", "gaussian_nll_loss") else {}
    if name == "triplet_margin_loss":
        kwargs = {"margin": 100.0}
    for a in args:
        if a.dtype.kind == "f":
            a.requires_grad_(True)
    fn = getattr(F, name)
    out_shape = fn(*args, reduction="none", **kwargs).shape
    weights = mg.tensor(RNG.standard_normal(out_shape))
    assert mg.gradcheck(lambda *t: (fn(*t, reduction="none", **kwargs) * weights).sum(), args)
    assert mg.gradgradcheck(lambda *t: (fn(*t, reduction="none", **kwargs) * weights).sum(), args)


def test_loss_errors_name_the_function_and_the_shapes():
    x = mg.tensor(_r(4, 3))
    with pytest.raises(ShapeError, match=r"margin_ranking_loss.*\(4, 3\).*\(4,\)"):
        F.margin_ranking_loss(x, x, mg.tensor(_signs(4)))
    with pytest.raises(ValueError, match="reduction"):
        F.hinge_embedding_loss(x, x, reduction="avg")
    with pytest.raises(ShapeError, match=r"cosine_embedding_loss: a 1-D target expects 2-D inputs"):
        F.cosine_embedding_loss(mg.tensor(_r(3)), mg.tensor(_r(3)), mg.tensor(_signs(3)))
    with pytest.raises(ShapeError, match="multi-target"):
        F.cosine_embedding_loss(x, x, mg.tensor(_signs(4, 3)))
    with pytest.raises(ValueError, match="margin must be greater than 0"):
        F.triplet_margin_loss(x, x, x, margin=0.0)
    with pytest.raises(ValueError, match="margin must be greater than 0"):
        nn.TripletMarginWithDistanceLoss(margin=-1.0)
    with pytest.raises(ShapeError, match=r"same number of dimensions.*\(4, 3\).*\(3,\)"):
        F.triplet_margin_loss(x, mg.tensor(_r(3)), x)
    with pytest.raises(ValueError, match="only p == 1 and p == 2"):
        F.multi_margin_loss(x, mg.tensor(np.array([0, 1, 2, 0])), p=3)
    with pytest.raises(ShapeError, match=r"multi_margin_loss: inconsistent target size, expected 4"):
        F.multi_margin_loss(x, mg.tensor(np.array([0, 1])))
    with pytest.raises(ShapeError, match=r"inconsistent weight size, expected 3"):
        F.multi_margin_loss(x, mg.tensor(np.array([0, 1, 2, 0])), weight=mg.tensor(np.ones(2)))
    with pytest.raises(IndexError, match=r"multi_margin_loss: target 3 is out of range for 3 classes"):
        F.multi_margin_loss(x, mg.tensor(np.array([0, 1, 3, 0])))
    with pytest.raises(TypeError, match="integer class indices"):
        F.multi_margin_loss(x, mg.tensor(np.zeros(4)))
    with pytest.raises(ShapeError, match=r"multilabel_margin_loss: inconsistent target size"):
        F.multilabel_margin_loss(x, mg.tensor(np.zeros((4, 2), np.int64)))
    with pytest.raises(IndexError, match=r"multilabel_margin_loss: target 5 is out of range"):
        F.multilabel_margin_loss(x, mg.tensor(np.array([[5, -1, 0]] * 4)))
    with pytest.raises(ValueError, match="var has negative"):
        F.gaussian_nll_loss(x, x, mg.tensor(-RNG.random((4, 3))))
    with pytest.raises(ValueError, match="var has negative"):
        F.gaussian_nll_loss(x, x, -1.0)
    with pytest.raises(ShapeError, match=r"gaussian_nll_loss: var is of incorrect size \(4, 2\)"):
        F.gaussian_nll_loss(x, x, mg.tensor(RNG.random((4, 2))))
    with pytest.raises(ShapeError, match=r"gaussian_nll_loss: var is of incorrect size \(2, 3\)"):
        F.gaussian_nll_loss(x, x, mg.tensor(RNG.random((2, 3))))


# -- Module API -----------------------------------------------------------------------------------------
class _Two:
    """A module of two inputs (one a plain number) and two outputs, built on either library."""

    @staticmethod
    def build(lib_nn):
        class Two(lib_nn.Module):
            def __init__(self):
                super().__init__()
                self.lin = lib_nn.Linear(3, 2)

            def forward(self, x, scale, y):
                h = self.lin(x) * scale
                return h + y, (h * y).sum(-1)

        return Two()


def _grads_of(items):
    return [None if g is None else np.array(g.detach().numpy()) for g in items]


def _assert_same(ours, theirs):
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=TOL, atol=TOL)


@pytest.mark.parametrize("replace", [False, True])
@pytest.mark.parametrize("inputs_need_grad", [(True, True), (True, False), (False, False)])
def test_full_backward_hooks_see_and_replace_what_pytorch_does(inputs_need_grad, replace):
    torch = pytest.importorskip("torch")
    ours, theirs = _Two.build(nn).double(), _Two.build(torch.nn).double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x, y, up0, up1 = _r(4, 3), _r(4, 2), _r(4, 2), _r(4)
    seen = {}
    for key, module, lib in (("ours", ours, mg), ("theirs", theirs, torch)):
        calls = seen[key] = []

        def pre_hook(mod, grad_output, calls=calls):
            calls.append(("pre", _grads_of(grad_output)))
            return tuple(g * 2 for g in grad_output) if replace else None

        def hook(mod, grad_input, grad_output, calls=calls):
            calls.append(("full", _grads_of(grad_input), _grads_of(grad_output)))
            if replace and any(g is not None for g in grad_input):
                return tuple(None if g is None else g * -3 for g in grad_input)
            return None

        handles = [module.register_full_backward_pre_hook(pre_hook), module.register_full_backward_hook(hook)]
        xt, yt = lib.tensor(x, requires_grad=inputs_need_grad[0]), lib.tensor(y, requires_grad=inputs_need_grad[1])
        with pytest.warns(UserWarning) if key == "theirs" and not any(inputs_need_grad) else _no_warning():
            out0, out1 = module(xt, 0.5, yt)
            ((out0 * lib.tensor(up0)).sum() + (out1 * lib.tensor(up1)).sum()).backward()
        calls.append(("grads", _grads_of([xt.grad, yt.grad, module.lin.weight.grad, module.lin.bias.grad])))
        for h in handles:
            h.remove()
        out0, _ = module(xt, 0.5, yt)  # removed: no more calls
        out0.sum().backward()
    assert [c[0] for c in seen["ours"]] == [c[0] for c in seen["theirs"]] == ["pre", "full", "grads"]
    for a, b in zip(seen["ours"], seen["theirs"]):
        for part_a, part_b in zip(a[1:], b[1:]):
            _assert_same(part_a, part_b)


class _no_warning:  # noqa: N801 - a context manager used like pytest.warns
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_backward_hook_returning_the_wrong_number_of_gradients_is_an_error():
    lin = nn.Linear(3, 2)
    lin.register_full_backward_hook(lambda m, gi, go: (gi[0], gi[0]))
    x = mg.tensor(_r(4, 3), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"Linear returned an invalid number of grad_input: got 2, expected 1"):
        lin(x).sum().backward()


def test_backward_hooks_stay_out_of_no_grad_and_share_the_input_memory():
    lin = nn.Linear(3, 2)
    calls = []
    lin.register_full_backward_hook(lambda *a: calls.append(a))
    x = mg.tensor(_r(4, 3), requires_grad=True)
    with mg.no_grad():
        out = lin(x)
    assert out.grad_fn is None and not calls
    ident = nn.Identity()
    ident.register_full_backward_hook(lambda *a: calls.append(a))
    y = ident(x)
    assert y._version == x._version
    with mg.no_grad():
        y.add_(1.0)  # the same memory: x sees it, and so does its version counter
    assert np.array_equal(x.numpy(), y.numpy()) and x._version == y._version


def test_get_parameter_and_get_buffer_as_pytorch():
    torch = pytest.importorskip("torch")
    ours, theirs = (lib.Sequential(lib.Linear(2, 3), lib.BatchNorm1d(3)) for lib in (nn, torch.nn))
    assert ours.get_parameter("0.weight") is ours[0].weight
    assert ours.get_buffer("1.running_mean") is ours[1].running_mean
    for call, target in [("get_parameter", "1.running_mean"), ("get_parameter", "0.nope"),
                         ("get_buffer", "0.weight"), ("get_buffer", "1.nope")]:
        with pytest.raises(AttributeError) as ours_error:
            getattr(ours, call)(target)
        with pytest.raises(AttributeError) as theirs_error:
            getattr(theirs, call)(target)
        assert str(theirs_error.value) in str(ours_error.value)
    with pytest.raises(AttributeError):
        ours.get_parameter("2.weight")


def test_load_state_dict_assign_takes_the_checkpoint_tensors():
    torch = pytest.importorskip("torch")
    ours = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    theirs = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.BatchNorm1d(3))
    ours[0].bias.requires_grad_(False)
    theirs[0].bias.requires_grad_(False)
    state = {k: mg.tensor(v.double().numpy() + 1.0) if v.dtype.is_floating_point else mg.tensor(v.numpy())
             for k, v in theirs.state_dict().items()}
    old = ours[0].weight
    result = ours.load_state_dict(state, assign=True)
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in state.items()}, assign=True)
    assert result == ([], [])
    assert ours[0].weight is not old and isinstance(ours[0].weight, nn.Parameter)
    assert ours[0].weight.dtype == "float64"  # the checkpoint's dtype, as PyTorch's assign
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert p.requires_grad == q.requires_grad, name
        np.testing.assert_array_equal(p.numpy(), q.detach().numpy())
    assert np.shares_memory(ours.get_buffer("1.running_mean").numpy(), state["1.running_mean"].numpy())
    with pytest.raises(nn.StateDictError, match="assign=True needs a tensor"):
        ours.load_state_dict({k: v.numpy() for k, v in state.items()}, assign=True)


def test_type_half_share_memory_and_cuda():
    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    weight = model[0].weight
    assert model.type(mg.float64) is model and weight.dtype == "float64" and model[0].weight is weight
    assert model[1].num_batches_tracked.dtype == "float64"  # every tensor, as PyTorch's Module.type
    with pytest.raises(TypeError, match="only floating dtypes"):
        model.type("int64")
    for cast in ("half", "bfloat16"):
        with pytest.raises(TypeError, match="no float16|no bfloat16"):
            getattr(model, cast)()
    assert model.share_memory() is model
    if mg.backends.available().get("cupy") is True:
        assert model.cuda() is model and model[0].weight.is_cuda
    else:
        with pytest.raises(mg.errors.BackendUnavailableError):
            model.cuda()
        assert model[0].weight.backend == "numpy"  # nothing moved


def test_losses_and_backward_hooks_on_the_cupy_backend(cupy_device):
    torch = pytest.importorskip("torch")
    for name, kwargs, make, grads in MODULES:
        _compare(torch, getattr(nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs), make(), grads, cupy_device)
    seen = []
    lin = nn.Linear(3, 2).double().to(cupy_device)
    lin.register_full_backward_pre_hook(lambda m, go: seen.append(go[0].backend) or (go[0] * 2,))
    lin.register_full_backward_hook(lambda m, gi, go: seen.append(gi[0].backend) or (gi[0] * 3,))
    x = mg.tensor(_r(4, 3), backend=cupy_device, requires_grad=True)
    lin(x).sum().backward()
    assert seen == [cupy_device, cupy_device]
    np.testing.assert_allclose(x.grad.numpy(), 6 * np.ones((4, 2)) @ lin.weight.detach().numpy(), rtol=TOL)


# -- Bilinear and EmbeddingBag -----------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("shapes", "bias"), [(((5, 3), (5, 4)), True), (((2, 5, 3), (2, 5, 4)), False),
                                              (((3,), (4,)), True)])
def test_bilinear_matches_pytorch(shapes, bias, backend):
    torch = pytest.importorskip("torch")
    ours, theirs = nn.Bilinear(3, 4, 2, bias=bias).double(), torch.nn.Bilinear(3, 4, 2, bias=bias).double()
    assert repr(ours) == repr(theirs)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    ours.to(backend)
    _compare(torch, ours, theirs, [_r(*shapes[0]), _r(*shapes[1])], [True, True], backend)
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), theirs.get_parameter(name).grad.numpy(), rtol=TOL, atol=TOL)


def test_bilinear_default_init_bounds_as_pytorch():
    layer = nn.Bilinear(4, 2, 3)
    for p in (layer.weight, layer.bias):
        assert np.abs(p.numpy()).max() <= 0.5 and np.abs(p.numpy()).max() > 0.1  # U(-1/sqrt(4), 1/sqrt(4))


BAGS = {
    "2d": (lambda: RNG.integers(0, 7, (3, 4)), None, {}),
    "2d-padding": (lambda: np.array([[1, 0, 2, 0], [0, 0, 0, 0], [3, 4, 5, 6]]), None, {"padding_idx": 0}),
    "offsets-empty-bag": (lambda: np.array([1, 2, 4, 5, 4, 3, 2, 6]), np.array([0, 2, 2, 5]), {}),
    "csr": (lambda: np.array([1, 2, 4, 5, 4, 3, 2, 6]), np.array([0, 2, 2, 5, 8]), {"include_last_offset": True}),
    "offsets-padding": (lambda: np.array([1, 2, 4, 5, 4, 3, 2, 6]), np.array([0, 3, 8]), {"padding_idx": 4}),
}


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("name", list(BAGS))
def test_embedding_bag_matches_pytorch(name, mode):
    torch = pytest.importorskip("torch")
    make, offsets, kwargs = BAGS[name]
    ours = nn.EmbeddingBag(7, 3, mode=mode, **kwargs).double()
    theirs = torch.nn.EmbeddingBag(7, 3, mode=mode, **kwargs).double()
    assert repr(ours) == repr(theirs)
    if "padding_idx" in kwargs:
        assert not np.any(ours.weight.numpy()[kwargs["padding_idx"]])
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    index = make()
    extra = [] if offsets is None else [offsets]
    _compare(torch, lambda *a: ours(*a), lambda *a: theirs(*a), [index, *extra], [False] * (1 + len(extra)))
    out, expected = ours(mg.tensor(index), *[mg.tensor(e) for e in extra]), theirs(torch.tensor(index),
                                                                                 *[torch.tensor(e) for e in extra])
    up = _r(*expected.shape)
    out.backward(mg.tensor(up))
    expected.backward(torch.tensor(up))
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=TOL, atol=TOL)


@pytest.mark.parametrize("offsets", [None, np.array([0, 1, 1, 6])])
def test_embedding_bag_per_sample_weights_get_pytorch_gradients(offsets):
    torch = pytest.importorskip("torch")
    weight = _r(6, 3)
    index = RNG.integers(0, 6, (2, 3)) if offsets is None else RNG.integers(0, 6, 8)
    extra = [] if offsets is None else [offsets]
    psw = _r(*index.shape)
    _compare(torch, lambda w, i, *rest: F.embedding_bag(i, w, *rest[:-1], mode="sum", per_sample_weights=rest[-1],
                                                         padding_idx=2),
             lambda w, i, *rest: torch.nn.functional.embedding_bag(i, w, *rest[:-1], mode="sum",
                                                                   per_sample_weights=rest[-1], padding_idx=2),
             [weight, index, *extra, psw], [True, False, *[False] * len(extra), True])


def test_embedding_bag_from_pretrained_and_max_norm_as_pytorch():
    torch = pytest.importorskip("torch")
    weight = _r(5, 3) * 3
    ours = nn.EmbeddingBag.from_pretrained(mg.tensor(weight.copy()), max_norm=1.0)
    theirs = torch.nn.EmbeddingBag.from_pretrained(torch.tensor(weight.copy()), max_norm=1.0)
    assert not ours.weight.requires_grad and repr(ours) == repr(theirs)
    index = np.array([[0, 2], [2, 3]])
    np.testing.assert_allclose(ours(mg.tensor(index)).numpy(), theirs(torch.tensor(index)).numpy(), rtol=TOL)
    np.testing.assert_allclose(ours.weight.numpy(), theirs.weight.numpy(), rtol=TOL)  # rows 0, 2, 3 renormed


def test_bilinear_and_embedding_bag_errors():
    x1, x2, w = mg.tensor(_r(5, 3)), mg.tensor(_r(5, 4)), mg.tensor(_r(2, 3, 4))
    with pytest.raises(ShapeError, match=r"bilinear: input1 \(5, 3\) and input2 \(4, 4\)"):
        F.bilinear(x1, mg.tensor(_r(4, 4)), w)
    with pytest.raises(ShapeError, match=r"bilinear: weight must have shape \(out, 3, 4\)"):
        F.bilinear(x1, x2, mg.tensor(_r(2, 4, 3)))
    with pytest.raises(ShapeError, match=r"bilinear: bias must have shape \(2,\)"):
        F.bilinear(x1, x2, w, mg.tensor(_r(3)))
    table = mg.tensor(_r(6, 3))
    index = mg.tensor(np.array([1, 2, 3]))
    with pytest.raises(ValueError, match="offsets has to be a 1-D tensor"):
        F.embedding_bag(index, table)
    with pytest.raises(ValueError, match="if input is 2-D, offsets has to be None"):
        F.embedding_bag(mg.tensor(np.array([[1, 2]])), table, mg.tensor(np.array([0])))
    with pytest.raises(ValueError, match=r"offsets\[0\] has to be 0"):
        F.embedding_bag(index, table, mg.tensor(np.array([1, 2])))
    with pytest.raises(ValueError, match="last offset must equal the number of indices"):
        F.embedding_bag(index, table, mg.tensor(np.array([0, 2])), include_last_offset=True)
    with pytest.raises(NotImplementedError, match="per_sample_weights is only supported for mode='sum'"):
        F.embedding_bag(index, table, mg.tensor(np.array([0])), per_sample_weights=mg.tensor(_r(3)))
    with pytest.raises(ShapeError, match=r"per_sample_weights \(2,\) must have the input's shape \(3,\)"):
        F.embedding_bag(index, table, mg.tensor(np.array([0])), mode="sum", per_sample_weights=mg.tensor(_r(2)))
    with pytest.raises(IndexError, match="index 6 is out of range for 6 embeddings"):
        F.embedding_bag(mg.tensor(np.array([1, 6])), table, mg.tensor(np.array([0])))
    with pytest.raises(ValueError, match="mode must be"):
        nn.EmbeddingBag(3, 2, mode="min")


# -- nn.utils.rnn.pad_sequence -------------------------------------------------------------------------------
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_pad_sequence_matches_pytorch(batch_first, padding_side):
    torch = pytest.importorskip("torch")
    from minigrad.nn.utils.rnn import pad_sequence

    arrays = [_r(3, 2), _r(1, 2), _r(4, 2)]
    _compare(torch, lambda *s: pad_sequence(list(s), batch_first, -1.5, padding_side),
             lambda *s: torch.nn.utils.rnn.pad_sequence(list(s), batch_first, -1.5, padding_side),
             arrays, [True] * 3)
    assert nn.utils.rnn.pad_sequence is pad_sequence


def test_pad_sequence_errors():
    from minigrad.nn.utils.rnn import pad_sequence

    with pytest.raises(ValueError, match="padding_side must be 'left' or 'right'"):
        pad_sequence([mg.tensor(_r(2))], padding_side="middle")
    with pytest.raises(ShapeError, match=r"one trailing shape.*\(2, 3\), \(2, 4\)"):
        pad_sequence([mg.tensor(_r(2, 3)), mg.tensor(_r(2, 4))])
    with pytest.raises(ValueError, match="empty list"):
        pad_sequence([])


# -- CTC ---------------------------------------------------------------------------------------------------------
CTC = {
    "padded": (6, 3, 5, np.array([[1, 2, 2], [3, 1, 1], [4, 1, 1]]), [6, 4, 5], [3, 1, 2], {}),
    "concatenated": (6, 3, 5, np.array([1, 2, 2, 3, 4, 1]), [6, 4, 5], [3, 1, 2], {}),
    "empty-target-blank-2": (6, 3, 5, np.array([[1, 3, 3], [4, 0, 0], [4, 1, 0]]), [6, 4, 5], [3, 0, 2], {"blank": 2}),
    "impossible": (3, 2, 5, np.array([[1, 1, 1], [3, 4, 3]]), [3, 3], [3, 3], {}),
    "impossible-zero-infinity": (3, 2, 5, np.array([[1, 1, 1], [3, 4, 3]]), [3, 3], [3, 3], {"zero_infinity": True}),
    "unbatched": (5, 0, 4, np.array([1, 3]), 5, 2, {}),
}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", list(CTC))
def test_ctc_loss_matches_pytorch_through_log_softmax(name, reduction):
    torch = pytest.importorskip("torch")
    steps, batch, classes, targets, in_lengths, lengths, kwargs = CTC[name]
    logits = _r(steps, batch, classes) if batch else _r(steps, classes)
    ours = nn.CTCLoss(**kwargs, reduction=reduction)
    theirs = torch.nn.CTCLoss(**kwargs, reduction=reduction)
    assert repr(ours) == repr(theirs)
    x, xt = mg.tensor(logits, requires_grad=True), torch.tensor(logits, requires_grad=True)
    out = ours(x.log_softmax(-1), mg.tensor(targets), mg.tensor(np.array(in_lengths)), mg.tensor(np.array(lengths)))
    expected = theirs(xt.log_softmax(-1), torch.tensor(targets), torch.tensor(in_lengths), torch.tensor(lengths))
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=TOL, atol=TOL)
    up = RNG.standard_normal(expected.shape)
    out.backward(mg.tensor(up))
    expected.backward(torch.tensor(up))
    finite = np.isfinite(expected.detach().numpy()).all()
    if finite:  # (PyTorch's gradient of an infinite loss is NaN; minigrad's is 0)
        np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=TOL, atol=TOL)
    else:
        assert np.array_equal(np.isinf(out.numpy()), np.isinf(expected.detach().numpy()))


def test_ctc_loss_leaf_gradient_is_the_true_one():
    """PyTorch's gradient w.r.t. log_probs (a leaf) is its gradient w.r.t. the logits behind a log_softmax: the
    true one plus exp(log_probs) in each frame within the input length (which log_softmax's backward removes).
    minigrad's is the true derivative, as finite differences confirm."""
    torch = pytest.importorskip("torch")
    log_probs = np.log(RNG.dirichlet(np.ones(5), (6, 2)))
    targets, in_lengths, lengths = np.array([[1, 3], [2, 0]]), np.array([6, 4]), np.array([2, 1])
    x, xt = mg.tensor(log_probs, requires_grad=True), torch.tensor(log_probs, requires_grad=True)
    F.ctc_loss(x, mg.tensor(targets), mg.tensor(in_lengths), mg.tensor(lengths), blank=4, reduction="sum").backward()
    torch.nn.functional.ctc_loss(xt, torch.tensor(targets), torch.tensor(in_lengths), torch.tensor(lengths),
                                 blank=4, reduction="sum").backward()
    within = (np.arange(6)[:, None] < in_lengths)[..., None]
    np.testing.assert_allclose(x.grad.numpy() + np.exp(log_probs) * within, xt.grad.numpy(), rtol=TOL, atol=TOL)
    weights = mg.tensor(_r(2))
    assert mg.gradcheck(lambda a: (F.ctc_loss(a, mg.tensor(targets), mg.tensor(in_lengths), mg.tensor(lengths),
                                              blank=4, reduction="none") * weights).sum(),
                        (mg.tensor(log_probs, requires_grad=True),))


def test_ctc_loss_on_the_cupy_backend(cupy_device):
    torch = pytest.importorskip("torch")
    logits = _r(6, 2, 4)
    targets, in_lengths, lengths = np.array([[1, 2, 2], [3, 0, 0]]), np.array([6, 5]), np.array([3, 1])
    x = mg.tensor(logits, backend=cupy_device, requires_grad=True)
    xt = torch.tensor(logits, requires_grad=True)
    out = F.ctc_loss(x.log_softmax(-1), mg.tensor(targets, backend=cupy_device), in_lengths, lengths)
    expected = torch.nn.functional.ctc_loss(xt.log_softmax(-1), torch.tensor(targets), tuple(in_lengths),
                                            tuple(lengths))
    out.backward()
    expected.backward()
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=TOL, atol=TOL)
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=TOL, atol=TOL)


def test_ctc_loss_errors():
    lp = mg.tensor(_r(4, 2, 3)).log_softmax(-1)
    targets, lengths = mg.tensor(np.array([[1, 2], [2, 1]])), mg.tensor(np.array([2, 2]))
    with pytest.raises(ValueError, match=r"input_lengths must be in \[0, T=4\]"):
        F.ctc_loss(lp, targets, mg.tensor(np.array([5, 4])), lengths)
    with pytest.raises(ShapeError, match="input_lengths must hold 2 integer length"):
        F.ctc_loss(lp, targets, mg.tensor(np.array([4])), lengths)
    with pytest.raises(ValueError, match=r"blank 3 must be in the label range \[0, 3\)"):
        F.ctc_loss(lp, targets, (4, 4), (2, 2), blank=3)
    with pytest.raises(ValueError, match="differ from blank=0"):
        F.ctc_loss(lp, mg.tensor(np.array([[1, 0], [2, 1]])), (4, 4), (2, 2))
    with pytest.raises(ShapeError, match="at least the longest target length 3"):
        F.ctc_loss(lp, targets, (4, 4), (3, 2))
    with pytest.raises(ShapeError, match="fewer than the target lengths' sum 4"):
        F.ctc_loss(lp, mg.tensor(np.array([1, 2, 1])), (4, 4), (2, 2))
    with pytest.raises(TypeError, match="integer class indices"):
        F.ctc_loss(lp, mg.tensor(np.array([[1.0, 2.0], [2.0, 1.0]])), (4, 4), (2, 2))


# -- traversal, state dicts and repr against PyTorch ------------------------------------------------------------
def _pair_of_models(torch):
    def build(lib):
        shared = lib.Linear(2, 2)
        model = lib.Sequential(shared, lib.BatchNorm1d(2), lib.Sequential(shared, lib.Linear(2, 3, bias=False)))
        model.register_buffer("scale", (mg if lib is nn else torch).ones(3), persistent=False)
        return model

    return build(nn), build(torch.nn)


def test_named_members_state_dict_dir_and_repr_as_pytorch():
    torch = pytest.importorskip("torch")
    ours, theirs = _pair_of_models(torch)
    for method in ("named_parameters", "named_buffers", "named_modules"):
        for kwargs in ({}, {"prefix": "model"}, {"remove_duplicate": False}):
            if method != "named_modules":
                kwargs = {**kwargs, "recurse": True}
            assert [n for n, _ in getattr(ours, method)(**kwargs)] == [n for n, _ in getattr(theirs, method)(**kwargs)]
    assert [n for n, _ in ours[2].named_parameters(recurse=False)] == [n for n, _ in
                                                                       theirs[2].named_parameters(recurse=False)]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for prefix in ("net.", "net"):
        assert list(ours.state_dict(prefix=prefix)) == list(theirs.state_dict(prefix=prefix))
    kept = ours.state_dict(keep_vars=True)
    assert kept["0.weight"] is ours[0].weight and ours.state_dict()["0.weight"] is not ours[0].weight
    destination = {}
    assert ours.state_dict(destination) is destination
    assert {"scale", "training"} <= set(dir(ours)) and "0" in dir(ours)
    del ours[1], theirs[1]  # (BatchNorm's repr is its own module's business)
    assert repr(ours) == repr(theirs)
    assert repr(nn.Identity(54, unused="x")) == repr(torch.nn.Identity(54, unused="x")) == "Identity()"


def test_set_submodule_and_the_deprecated_backward_hook_as_pytorch():
    torch = pytest.importorskip("torch")
    ours, theirs = _pair_of_models(torch)
    ours.set_submodule("2.1", nn.Tanh())
    theirs.set_submodule("2.1", torch.nn.Tanh())
    assert repr(ours[2]) == repr(theirs[2])
    for target, module, strict in [("2.5", nn.ReLU(), True), ("9.1", nn.ReLU(), False), ("scale", nn.ReLU(), False)]:
        with pytest.raises(AttributeError) as ours_error:
            ours.set_submodule(target, module, strict)
        with pytest.raises(AttributeError) as theirs_error:
            theirs.set_submodule(target, torch.nn.ReLU(), strict)
        assert str(theirs_error.value) in str(ours_error.value)
    with pytest.raises(ValueError, match="not an nn.Module"):
        ours.set_submodule("2.1", "relu")
    with pytest.raises(NotImplementedError, match="use register_full_backward_hook"):
        ours.register_backward_hook(lambda *a: None)


def test_extra_state_travels_in_the_state_dict_as_pytorch():
    torch = pytest.importorskip("torch")

    def build(lib):
        class Counter(lib.Module):
            def __init__(self):
                super().__init__()
                self.lin, self.steps = lib.Linear(2, 2), 0

            def get_extra_state(self):
                return {"steps": self.steps}

            def set_extra_state(self, state):
                self.steps = state["steps"]

            def forward(self, x):
                return self.lin(x)

        return lib.Sequential(Counter(), lib.ReLU())

    ours, theirs = build(nn), build(torch.nn)
    ours[0].steps = theirs[0].steps = 7
    state, expected = ours.state_dict(), theirs.state_dict()
    assert list(state) == list(expected) == ["0._extra_state", "0.lin.weight", "0.lin.bias"]
    assert state["0._extra_state"] == expected["0._extra_state"] == {"steps": 7}
    fresh = build(nn)
    assert fresh.load_state_dict(state) == ([], [])
    assert fresh[0].steps == 7
    del state["0._extra_state"]
    with pytest.raises(nn.StateDictError, match="missing key.*0._extra_state"):
        build(nn).load_state_dict(state)
    assert build(nn).load_state_dict(state, strict=False).missing_keys == ["0._extra_state"]
    assert ours.compile() is None and ours(mg.ones(1, 2)).shape == (1, 2)  # compile: nothing to do


KINKS = [  # each case puts some element exactly on its hinge's kink
    ("margin_ranking_loss", [[0.0, 1.0, -1.0], [0.0, 0.0, 0.0], [-1.0, -1.0, -1.0]], [True, True, True], {}),
    ("hinge_embedding_loss", [[1.0, 0.5, 2.0], [-1.0, -1.0, -1.0]], [True, False], {}),
    ("multi_margin_loss", [[[1.0, 0.0, 1.0]], np.array([0])], [True, False], {}),
    ("multi_margin_loss", [[[1.0, 0.0, 1.0]], np.array([0])], [True, False], {"p": 2}),
    ("multilabel_margin_loss", [[[1.0, 0.0, 2.0]], np.array([[0, -1, 0]])], [True, False], {}),
    ("triplet_margin_loss", [[[0.0, 0.0]], [[1.0, 0.0]], [[2.0, 0.0]]], [True, True, True], {"eps": 0.0}),
]


@pytest.mark.parametrize(("name", "arrays", "grads", "kwargs"), KINKS, ids=[f"{k[0]}-{i}" for i, k in enumerate(KINKS)])
def test_gradients_at_the_hinge_kinks_are_pytorch_s(name, arrays, grads, kwargs):
    """PyTorch's functional hinges (clamp_min) pass the gradient at the kink; its C++ kernels for the multi-class
    margins (z > 0) do not: each loss here follows its PyTorch counterpart."""
    torch = pytest.importorskip("torch")
    arrays = [np.asarray(a, dtype=np.float64) if not isinstance(a, np.ndarray) else a for a in arrays]
    _compare(torch, _kw(getattr(F, name), reduction="sum", **kwargs),
             _kw(getattr(torch.nn.functional, name), reduction="sum", **kwargs), arrays, grads)


@pytest.mark.parametrize("index", [[[0, 1, 2]], [[1, 0, 2]], [[2, 1, 1, 0]]])
def test_embedding_bag_max_sends_a_tie_s_gradient_to_the_first_in_the_bag(index):
    torch = pytest.importorskip("torch")
    weight = np.array([[1.0, 2.0], [1.0, 2.0], [0.0, 5.0]])
    _compare(torch, lambda w: F.embedding_bag(mg.tensor(np.array(index)), w, mode="max"),
             lambda w: torch.nn.functional.embedding_bag(torch.tensor(index), w, mode="max"), [weight], [True])


def test_backward_hooks_run_in_pytorch_s_order_with_prepend():
    torch = pytest.importorskip("torch")
    orders = []
    for lib, module in ((mg, nn.Linear(2, 2)), (torch, torch.nn.Linear(2, 2))):
        order = []
        module.register_full_backward_hook(lambda m, gi, go, o=order: o.append("full-1"))
        module.register_full_backward_hook(lambda m, gi, go, o=order: o.append("full-0"), prepend=True)
        module.register_full_backward_pre_hook(lambda m, go, o=order: o.append("pre-1"))
        module.register_full_backward_pre_hook(lambda m, go, o=order: o.append("pre-0"), prepend=True)
        module(lib.ones(1, 2, requires_grad=True)).sum().backward()
        orders.append(order)
    assert orders[0] == orders[1] == ["pre-0", "pre-1", "full-0", "full-1"]


def test_cross_entropy_probability_targets_gradcheck_and_errors():
    x = mg.tensor(_r(3, 4, 2), requires_grad=True)
    t = mg.tensor(_probabilities((3, 4, 2)), requires_grad=True)
    w = mg.tensor(RNG.random(4) + 0.5)
    assert mg.gradcheck(lambda a, b: F.cross_entropy(a, b, w, label_smoothing=0.2), (x, t))
    assert mg.gradcheck(lambda a, b: F.cross_entropy(a, b, reduction="none"), (x, t))
    with pytest.raises(ShapeError, match=r"class-probability targets must have the input's shape \(3, 4, 2\)"):
        F.cross_entropy(x, t[:, :, 0])
    with pytest.raises(ValueError, match="ignore_index is only for class-index targets"):
        F.cross_entropy(x, t, ignore_index=0)
    with pytest.raises(ShapeError, match=r"weight must have shape \(4,\)"):
        F.cross_entropy(x, t, mg.tensor(np.ones(3)))
    loss = nn.CrossEntropyLoss(label_smoothing=0.1)(x, t)  # the module takes the same path
    assert loss.item() == pytest.approx(F.cross_entropy(x, t, label_smoothing=0.1).item(), rel=1e-15)
