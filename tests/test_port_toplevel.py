"""PyTorch's top-level ``torch.<name>`` functions that ported scripts call: the in-place spellings (``torch.exp_``),
the functional ops with ATen's signatures (``torch.batch_norm``, ``torch.embedding(weight, indices)``,
``torch.dropout(input, p, train)``, integer reductions), the deprecated and removed linear algebra (``svd``, ``qr``,
``solve``, ...), ``asarray``/``frombuffer``/``empty_strided``/``range``, ``unravel_index``, ``gradient``,
``histogramdd``, ``nonzero_static``, ``fill``, the process-wide switches, and the Tensor methods beside them
(``apply_``, ``map_``, ``pin_memory``, ``layout``, ...). Values and float64 gradients (random upstream gradients)
equal PyTorch's on the NumPy and Numba backends; the errors are checked without PyTorch."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from _lazy_torch import torch  # PyTorch on first use; without it, only its comparisons skip

import minigrad as mg
from minigrad import runtime
from minigrad.errors import ShapeError

BACKENDS = [b for b in ("numpy", "numba") if b in mg.testing.available_backends()]
TOL = {"rtol": 1e-12, "atol": 1e-12}


def _flat(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _agree(fn_mg, fn_pt, arrays, backend="numpy", *, grad=True, tol=TOL, seed=0):
    """``fn`` of the same float64 values in minigrad (on ``backend``) and PyTorch: equal outputs (values, shapes,
    dtypes) and, for a random projection of the outputs, equal gradients of the floating inputs."""
    rng = np.random.default_rng(seed)
    arrays = [np.asarray(a) for a in arrays]
    ours = [mg.tensor(a, backend=backend, requires_grad=grad and a.dtype.kind == "f") for a in arrays]
    theirs = [torch.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in arrays]
    with mg.backend(backend):  # constants made inside fn_mg go to the backend too
        out_m = _flat(fn_mg(*ours))
    out_t = _flat(fn_pt(*theirs))
    assert len(out_m) == len(out_t)
    for a, b in zip(out_m, out_t):
        assert a.backend == backend and tuple(a.shape) == tuple(b.shape)
        assert a.dtype.name == str(b.dtype).removeprefix("torch.")
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), **tol)
    pairs = [(a, b) for a, b in zip(out_m, out_t) if b.requires_grad]
    leaves = [(m, t) for m, t in zip(ours, theirs) if t.requires_grad]
    if not pairs or not leaves:
        return out_m
    weights = [rng.standard_normal(tuple(b.shape)) for _, b in pairs]
    loss_m = sum((a * mg.tensor(w, backend=backend)).sum() for (a, _), w in zip(pairs, weights))
    loss_t = sum((b * torch.tensor(w)).sum() for (_, b), w in zip(pairs, weights))
    grads_m = mg.grad(loss_m, [m for m, _ in leaves], allow_unused=True)
    grads_t = torch.autograd.grad(loss_t, [t for _, t in leaves], allow_unused=True)
    for gm, gt in zip(grads_m, grads_t):
        if gt is None or gm is None:  # no gradient: zeros on the other side
            assert not np.any((gm if gt is None else gt).numpy()) if (gm, gt) != (None, None) else True
        else:
            np.testing.assert_allclose(gm.numpy(), gt.numpy(), **tol)
    return out_m


# -- torch.<name>_(x): the Tensor method, from one table ------------------------------------------------------------
def _unit(rng, shape=(2, 3)):
    return rng.uniform(0.1, 0.9, shape)


def _wide(rng, shape=(2, 3)):
    return rng.uniform(-2.0, 2.0, shape)


def _above_one(rng, shape=(2, 3)):
    return rng.uniform(1.1, 3.0, shape)


# name: (input values, extra arguments as a function of the library and its tensor maker)
INPLACE = {name: (_unit, None) for name in (
    "acos_", "arccos_", "asin_", "arcsin_", "atanh_", "arctanh_", "logit_", "log_", "log10_", "log1p_", "log2_",
    "sqrt_", "rsqrt_", "reciprocal_")}
INPLACE.update({name: (_wide, None) for name in (
    "abs_", "asinh_", "arcsinh_", "atan_", "arctan_", "ceil_", "cos_", "cosh_", "deg2rad_", "erf_", "erfc_", "exp2_",
    "exp_", "expm1_", "fix_", "floor_", "frac_", "i0_", "neg_", "negative_", "rad2deg_", "round_", "sigmoid_", "sin_",
    "sinc_", "sinh_", "square_", "tan_", "tanh_", "trunc_", "zero_", "detach", "detach_")})
INPLACE.update({"acosh_": (_above_one, None), "arccosh_": (_above_one, None)})
INPLACE.update({
    "clamp_": (_wide, lambda lib, t: ((), {"min": -0.5, "max": 0.7})),
    "clip_": (_wide, lambda lib, t: ((-0.5, 0.7), {})),
    "clamp_max_": (_wide, lambda lib, t: ((0.3,), {})),
    "clamp_min_": (_wide, lambda lib, t: ((-0.3,), {})),
    "fill_": (_wide, lambda lib, t: ((2.5,), {})),
    "logit_": (_unit, lambda lib, t: ((), {"eps": 0.2})),
    "round_": (_wide, lambda lib, t: ((), {"decimals": 1})),
    "xlogy_": (_unit, lambda lib, t: ((t([[0.5, 2.0, 0.0]]),), {})),
    "ldexp_": (_wide, lambda lib, t: ((t([[1, 0, 3]]),), {})),  # PyTorch's gradient is 0 for negative exponents
    "nan_to_num_": (lambda rng: np.array([[np.nan, np.inf, -np.inf], [1.0, -2.0, 0.5]]),
                    lambda lib, t: ((), {"nan": 0.5, "posinf": 9.0})),
    "addmv_": (lambda rng: rng.standard_normal(3),
               lambda lib, t: ((t(np.arange(6.0).reshape(3, 2) / 5), t(np.array([0.5, -1.0]))),
                               {"beta": 0.5, "alpha": 2.0})),
    "gcd_": (lambda rng: np.array([[12, 18, 7]]), lambda lib, t: ((t([[8, 12, 0]]),), {})),
    "lcm_": (lambda rng: np.array([[4, 6, 7]]), lambda lib, t: ((t([[6, 4, 0]]),), {})),
    "resize_as_": (_wide, lambda lib, t: ((t(np.zeros((3, 2))),), {})),
})


# PyTorch's in-place forms of these have no derivative (minigrad's have): compared with its out-of-place ones
NO_INPLACE_DERIVATIVE_IN_PYTORCH = {"acosh_", "arccosh_", "asinh_", "arcsinh_", "atanh_", "arctanh_"}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(INPLACE))
def test_toplevel_inplace_spellings_match_pytorch(name, backend):
    values, extra = INPLACE[name]
    x = values(np.random.default_rng(1))
    grad = x.dtype.kind == "f" and name != "resize_as_"  # PyTorch cannot resize a tensor in a graph

    def run(lib, make):
        def fn(leaf):
            args, kwargs = extra(lib, make) if extra else ((), {})
            target = leaf * 1 if grad else leaf  # a non-leaf, so the in-place op joins the graph
            if lib is torch and name in NO_INPLACE_DERIVATIVE_IN_PYTORCH:
                return getattr(torch, name[:-1])(target, *args, **kwargs)
            out = getattr(lib, name)(target, *args, **kwargs)
            assert out is target  # in place: the tensor itself comes back
            return out
        return fn

    def run_detach(lib, make):  # detach is not in place
        return lambda leaf: getattr(lib, name)(leaf * 1)

    chosen = run_detach if name == "detach" else run
    _agree(chosen(mg, lambda v: mg.tensor(v, backend=backend)), chosen(torch, torch.tensor), [x], backend, grad=grad)


def test_toplevel_inplace_spellings_are_the_methods_and_refuse_non_tensors():
    x = mg.tensor([0.5, -1.0])
    assert mg.exp_(x) is x and x.tolist() == pytest.approx([np.exp(0.5), np.exp(-1.0)])
    assert mg.ops.PUBLIC["exp_"] is mg.exp_ and "exp_" not in mg.ops.METHODS  # the method is the Tensor's own
    with pytest.raises(TypeError, match="exp_: expected a tensor, got float"):
        mg.exp_(0.5)
    leaf = mg.tensor([1.0], requires_grad=True)
    with pytest.raises(mg.InplaceError):
        mg.sin_(leaf)  # the method's rule: a leaf that requires grad is not changed in place


# -- functional ops with ATen's signatures ----------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_and_instance_norm_take_atens_argument_order(backend, training):
    rng = np.random.default_rng(2)
    x, w, b = rng.standard_normal((4, 3, 5)), rng.standard_normal(3), rng.standard_normal(3)
    stats = {}
    for lib, make in ((mg, lambda v: mg.tensor(v, backend=backend)), (torch, torch.tensor)):
        stats[lib] = [make(rng_values.copy()) for rng_values in (np.array([0.1, -0.2, 0.3]), np.array([1.0, 2.0, 0.5]))]

    def norm(lib):
        mean, var = stats[lib]
        return lambda t, ww, bb: lib.batch_norm(t, ww, bb, mean, var, training, 0.3, 1e-4, False)

    _agree(norm(mg), norm(torch), [x, w, b], backend)
    for ours, theirs in zip(stats[mg], stats[torch]):  # running statistics updated alike (training)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), **TOL)

    def inorm(lib):
        mean, var = stats[lib]
        return lambda t, ww, bb: lib.instance_norm(t, ww, bb, mean, var, training, 0.2, 1e-5, False)

    _agree(inorm(mg), inorm(torch), [x, w, b], backend)
    for ours, theirs in zip(stats[mg], stats[torch]):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), **TOL)


@pytest.mark.parametrize("backend", BACKENDS)
def test_layer_norm_group_norm_and_embedding_match_pytorch(backend):
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((2, 4, 3)), rng.standard_normal(3), rng.standard_normal(3)
    _agree(lambda t, ww, bb: mg.layer_norm(t, [3], ww, bb, 1e-3, True),
           lambda t, ww, bb: torch.layer_norm(t, [3], ww, bb, 1e-3, True), [x, w, b], backend)
    _agree(lambda t: mg.layer_norm(t, (4, 3)), lambda t: torch.layer_norm(t, (4, 3)), [x], backend)
    g, gb = rng.standard_normal(4), rng.standard_normal(4)
    _agree(lambda t, ww, bb: mg.group_norm(t, 2, ww, bb, 1e-4), lambda t, ww, bb: torch.group_norm(t, 2, ww, bb, 1e-4),
           [x, g, gb], backend)
    table, idx = rng.standard_normal((5, 2)), np.array([[0, 2], [2, 4]])
    for padding_idx in (-1, 2, -3, 9):  # negative: none (ATen's convention)
        _agree(lambda ww, i, p=padding_idx: mg.embedding(ww, i, p),
               lambda ww, i, p=padding_idx: torch.embedding(ww, i, p),
               [table, idx], backend)


def test_embedding_errors():
    table = mg.zeros(5, 2)
    with pytest.raises(ShapeError, match="embedding: 'weight' must be 2-D"):
        mg.embedding(mg.tensor([0, 1]), table)  # F.embedding's order, by mistake
    with pytest.raises(NotImplementedError, match="scale_grad_by_freq"):
        mg.embedding(table, mg.tensor([1]), -1, True)
    with pytest.raises(TypeError, match="integer tensor"):
        mg.embedding(table, mg.tensor([1.0]))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name, shape", [("dropout", (200, 50)), ("alpha_dropout", (200, 50)),
                                         ("feature_dropout", (200, 50, 4)), ("feature_alpha_dropout", (200, 50, 4))])
def test_dropouts_take_p_and_train_and_run_in_place(name, shape, backend):
    x = mg.ones(*shape, dtype="float64", backend=backend)
    assert getattr(mg, name)(x, 0.5, False) is x and getattr(mg, name)(x, 0.0, True) is x
    assert not getattr(mg, name)(x, 1.0, True).numpy().any() if "alpha" not in name else True
    if "alpha" in name:  # SELU's statistics: inputs of mean 0 and variance 1 keep them
        x = mg.tensor(np.random.default_rng(0).standard_normal(shape), backend=backend)
    mg.manual_seed(0)
    out = getattr(mg, name)(x, 0.3, True).numpy()
    if "alpha" in name:
        assert abs(out.mean()) < 0.1 and abs(out.std() - 1.0) < 0.1
    else:
        assert abs(out.mean() - 1.0) < 0.05  # expectation kept, as PyTorch's
    alpha = 1.7580993408473766  # a dropped element of alpha dropout: alpha * a * (p - 1), whatever its input
    dropped = np.isclose(out, alpha * (0.3 - 1) / np.sqrt((alpha * alpha * 0.3 + 1) * 0.7)) if "alpha" in name \
        else out == 0.0
    if name.startswith("feature"):  # one draw per sample and channel
        assert np.all(dropped == dropped[..., :1])
    assert 0.2 < dropped.mean() < 0.4
    y = x.clone()
    mg.manual_seed(0)
    assert getattr(mg, name + "_")(y, 0.3, True) is y
    np.testing.assert_array_equal(y.numpy(), out)  # the same draws, in place
    if "alpha" not in name:
        z = x.clone()
        assert getattr(mg, name + "_")(z, 1.0, True) is z and not z.numpy().any()
    with pytest.raises(TypeError, match="train"):
        getattr(mg, name)(x, 0.5)  # no defaults, as ATen's


def test_dropout_errors():
    with pytest.raises(ValueError, match="p must be in"):
        mg.dropout(mg.ones(3), 1.5, True)
    with pytest.raises(ShapeError, match="feature_dropout: requires at least 2 dimensions"):
        mg.feature_dropout(mg.ones(3), 0.5, True)
    with pytest.raises(ShapeError, match="feature_alpha_dropout"):
        mg.feature_alpha_dropout(mg.ones(3), 0.5, True)


LOSSES = [
    ("kl_div", lambda lib, r: lambda a, b: lib.kl_div(a, b.softmax(-1), r), [(3, 4), (3, 4)]),
    ("kl_div[log_target]", lambda lib, r: lambda a, b: lib.kl_div(a, b, r, log_target=True), [(3, 4), (3, 4)]),
    ("binary_cross_entropy_with_logits", lambda lib, r: lambda a, b: lib.binary_cross_entropy_with_logits(
        a, b.sigmoid().detach(), lib.tensor(np.arange(1.0, 5.0)), lib.tensor(np.array([0.5, 2.0, 1.0, 3.0])), r),
     [(3, 4), (3, 4)]),
    ("cosine_embedding_loss", lambda lib, r: lambda a, b: lib.cosine_embedding_loss(
        a, b, lib.tensor([1.0, -1.0, 1.0], dtype=a.dtype), 0.1, r), [(3, 4), (3, 4)]),
    ("hinge_embedding_loss", lambda lib, r: lambda a: lib.hinge_embedding_loss(
        a, lib.tensor([[1.0, -1.0, 1.0, -1.0]] * 3, dtype=a.dtype), 0.5, r), [(3, 4)]),
    ("margin_ranking_loss", lambda lib, r: lambda a, b: lib.margin_ranking_loss(
        a, b, lib.tensor([1.0, -1.0, 1.0], dtype=a.dtype), 0.2, r), [(3,), (3,)]),
    ("triplet_margin_loss", lambda lib, r: lambda a, b, c: lib.triplet_margin_loss(a, b, c, 1.0, 3.0, 1e-6, True, r),
     [(3, 4), (3, 4), (3, 4)]),
    ("poisson_nll_loss", lambda lib, r: lambda a, b: lib.poisson_nll_loss(a, b.abs() * 3, True, True, 1e-8, r),
     [(3, 4), (3, 4)]),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reduction", [0, 1, 2])
@pytest.mark.parametrize("name, make, shapes", LOSSES, ids=[case[0] for case in LOSSES])
def test_losses_take_integer_reductions(name, make, shapes, reduction, backend):
    rng = np.random.default_rng(4)
    arrays = [rng.standard_normal(s) for s in shapes]
    _agree(make(mg, reduction), make(torch, reduction), arrays, backend)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reduction", [0, 1, 2])
def test_ctc_loss_takes_an_integer_reduction(reduction, backend):
    rng = np.random.default_rng(5)
    logits = rng.standard_normal((6, 2, 4))
    targets, lengths, target_lengths = np.array([[1, 2, 2], [3, 1, 0]]), [6, 5], [3, 2]

    def loss(lib):
        return lambda x: lib.ctc_loss(x.log_softmax(-1), lib.tensor(targets), lengths, target_lengths, 0, reduction)

    _agree(loss(mg), loss(torch), [logits], backend)


def test_integer_reduction_errors():
    a = mg.zeros(2, 3)
    with pytest.raises(TypeError, match="kl_div: reduction must be an int"):
        mg.kl_div(a, a, "mean")
    with pytest.raises(TypeError, match="reduction must be an int"):
        mg.hinge_embedding_loss(a, a, 1.0, True)
    with pytest.raises(ValueError, match=r"reduction must be 0 \('none'\), 1 \('mean'\) or 2 \('sum'\), got 3"):
        mg.kl_div(a, a, 3)  # PyTorch does not reduce; minigrad refuses


@pytest.mark.parametrize("backend", BACKENDS)
def test_pools_without_return_indices_and_with_indices(backend):
    rng = np.random.default_rng(6)
    x1, x2, x3 = rng.standard_normal((2, 3, 9)), rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((1, 2, 5, 4, 6))
    _agree(lambda t: mg.max_pool1d(t, 3, 2, 1, 1, True), lambda t: torch.max_pool1d(t, 3, 2, 1, 1, True), [x1], backend)
    _agree(lambda t: mg.max_pool1d(t, 2), lambda t: torch.max_pool1d(t, 2), [x1], backend)
    _agree(lambda t: mg.max_pool1d(t, 2, []), lambda t: torch.max_pool1d(t, 2, []), [x1], backend)  # ATen's default
    _agree(lambda t: mg.max_pool2d(t, (3, 2), (2, 1), (1, 0), 1, False),
           lambda t: torch.max_pool2d(t, (3, 2), (2, 1), (1, 0), 1, False), [x2], backend)
    _agree(lambda t: mg.max_pool3d(t, 2, 2, 0, 1, True), lambda t: torch.max_pool3d(t, 2, 2, 0, 1, True), [x3], backend)
    _agree(lambda t: mg.max_pool1d_with_indices(t, 3, 2), lambda t: torch.max_pool1d_with_indices(t, 3, 2), [x1],
           backend)
    _agree(lambda t: mg.adaptive_max_pool1d(t, 4), lambda t: torch.adaptive_max_pool1d(t, 4), [x1], backend)
    with pytest.raises(TypeError):
        mg.max_pool2d(mg.zeros(1, 1, 4, 4), 2, return_indices=True)  # ATen's has no return_indices
    with pytest.raises(ValueError, match="stride"):
        mg.max_pool1d(mg.zeros(1, 1, 4), 2, 0)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("pad, value", [((1, -1), 7.0), ((1, 2, 0, 1), 0), ((-1, -1, 2, -1), -1.5), ((0, 0), 3)])
def test_constant_pad_nd_pads_and_crops(pad, value, backend):
    x = np.random.default_rng(7).standard_normal((3, 4))
    _agree(lambda t: mg.constant_pad_nd(t, pad, value), lambda t: torch.constant_pad_nd(t, pad, value), [x], backend)
    _agree(lambda t: mg.nn.functional.pad(t, pad, value=value), lambda t: torch.nn.functional.pad(t, pad, value=value),
           [x], backend)


def test_constant_pad_nd_errors():
    x = mg.zeros(2, 3)
    with pytest.raises(ValueError, match="pairs"):
        mg.constant_pad_nd(x, (1,))
    with pytest.raises(ValueError, match="pairs"):
        mg.constant_pad_nd(x, (1,) * 6)
    with pytest.raises(ShapeError, match="negative output size"):
        mg.constant_pad_nd(x, (-2, -2))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("mode, padding", [(0, 0), (0, 1), (1, 2), (0, 2)])
def test_grid_sampler_takes_the_modes_as_integers(mode, padding, backend):
    rng = np.random.default_rng(8)
    x, grid = rng.standard_normal((2, 3, 4, 5)), rng.uniform(-1.2, 1.2, (2, 3, 2, 2))
    _agree(lambda t, g: mg.grid_sampler(t, g, mode, padding, True),
           lambda t, g: torch.grid_sampler(t, g, mode, padding, True), [x, grid], backend, grad=mode == 0)
    with pytest.raises(ValueError, match=r"grid_sampler: interpolation_mode must be one of 0 \(bilinear\)"):
        mg.grid_sampler(mg.tensor(x), mg.tensor(grid), 5, 0, True)


ALIASES = {
    "conv1d": ((2, 3, 8), (4, 3, 3)), "conv2d": ((1, 2, 5, 5), (3, 2, 2, 2)),
    "conv3d": ((1, 2, 4, 4, 4), (2, 2, 2, 2, 2)),
    "conv_transpose1d": ((2, 3, 5), (3, 2, 3)), "conv_transpose2d": ((1, 2, 3, 3), (2, 3, 2, 2)),
    "conv_transpose3d": ((1, 2, 3, 3, 3), (2, 1, 2, 2, 2)), "bilinear": ((3, 2), (3, 4), (5, 2, 4)),
    "cosine_similarity": ((3, 4), (3, 4)), "pairwise_distance": ((3, 4), (3, 4)),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(ALIASES))
def test_functional_aliases_match_pytorch(name, backend):
    assert getattr(mg, name) is getattr(mg.nn.functional, name)  # torch.<name> is F.<name> there too
    rng = np.random.default_rng(9)
    _agree(getattr(mg, name), getattr(torch, name), [rng.standard_normal(s) for s in ALIASES[name]], backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_pooling_and_shuffle_aliases_match_pytorch(backend):
    rng = np.random.default_rng(10)
    x = rng.standard_normal((2, 4, 6))
    _agree(lambda t: mg.avg_pool1d(t, 3, 2, 1, False, False), lambda t: torch.avg_pool1d(t, 3, 2, 1, False, False),
           [x], backend)
    _agree(lambda t: mg.adaptive_avg_pool1d(t, 4), lambda t: torch.adaptive_avg_pool1d(t, 4), [x], backend)
    y = rng.standard_normal((1, 8, 2, 3))
    _agree(lambda t: mg.pixel_shuffle(t, 2), lambda t: torch.pixel_shuffle(t, 2), [y], backend)
    z = rng.standard_normal((1, 2, 4, 6))
    _agree(lambda t: mg.pixel_unshuffle(t, 2), lambda t: torch.pixel_unshuffle(t, 2), [z], backend)


# -- deprecated and removed linear algebra --------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (2, 3, 3)])
@pytest.mark.parametrize("some", [True, False])
def test_svd_returns_v_and_matches_pytorch(shape, some, backend):
    a = np.random.default_rng(11).standard_normal(shape)
    u, s, v = mg.svd(mg.tensor(a, backend=backend), some)
    tu, ts, tv = torch.svd(torch.tensor(a), some)
    k = min(shape[-2:])
    for ours, theirs in ((u, tu), (s, ts), (v, tv)):  # singular vectors up to a sign: compare magnitudes
        assert tuple(ours.shape) == tuple(theirs.shape)  # (the complete ones' extra vectors are not unique)
        np.testing.assert_allclose(np.abs(ours.numpy()[..., :k]), np.abs(theirs.numpy()[..., :k]), rtol=1e-10,
                                   atol=1e-10)
    rebuilt = u.numpy()[..., :k] * s.numpy()[..., None, :] @ np.swapaxes(v.numpy()[..., :k], -1, -2)
    np.testing.assert_allclose(rebuilt, a, **TOL)  # A = U diag(S) Vᵀ: V, not Vᵀ
    assert [t.shape for t in mg.tensor(a).svd(some=some)] == [u.shape, s.shape, v.shape]
    # U diag(S) Vᵀ and the singular values are unique: their gradients are PyTorch's
    _agree(lambda t: (lambda r: r.U @ (r.S.unsqueeze(-1) * r.V.mT[..., :k, :]))(mg.svd(t)),
           lambda t: (lambda r: r.U @ (r.S.unsqueeze(-1) * r.V.mT[..., :k, :]))(torch.svd(t)), [a], backend, tol={
               "rtol": 1e-10, "atol": 1e-10})


@pytest.mark.parametrize("backend", BACKENDS)
def test_svd_without_uv_gives_zeros_and_the_gradient_of_s(backend):
    a = np.random.default_rng(12).standard_normal((2, 4, 3))
    out = _agree(lambda t: mg.svd(t, compute_uv=False), lambda t: torch.svd(t, compute_uv=False), [a], backend,
                 tol={"rtol": 1e-10, "atol": 1e-10})
    assert not out[0].numpy().any() and not out[2].numpy().any() and not out[0].requires_grad
    assert type(mg.svd(mg.tensor(a))).__name__ == "svd" and mg.svd(mg.tensor(a)).V.shape == (2, 3, 3)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("some", [True, False])
def test_qr_matches_pytorch(some, backend):
    a = np.random.default_rng(13).standard_normal((5, 3))
    tol = {"rtol": 1e-10, "atol": 1e-10}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # complete Q of a tall matrix is not unique: no gradient (both libraries refuse it)
        _agree(lambda t: mg.qr(t, some), lambda t: torch.qr(t, some), [a], backend, grad=some, tol=tol)
        _agree(lambda t: t.qr(some=some), lambda t: t.qr(some=some), [a.T], backend, tol=tol)


def test_qr_warns_once_per_process_unless_warn_always():
    runtime._warned.clear()
    x = mg.eye(3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mg.qr(x)
        mg.qr(x)
        assert len(caught) == 1 and "linalg.qr" in str(caught[0].message)  # once per process, as PyTorch's
        mg.set_warn_always(True)
        try:
            mg.qr(x)
            mg.qr(x)
        finally:
            mg.set_warn_always(False)
        assert len(caught) == 3


@pytest.mark.parametrize("backend", BACKENDS)
def test_nuclear_and_frobenius_norms_match_pytorch(backend):
    a = np.random.default_rng(14).standard_normal((2, 3, 4))
    tol = {"rtol": 1e-10, "atol": 1e-10}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _agree(lambda t: mg.nuclear_norm(t), lambda t: torch.nuclear_norm(t), [a], backend, tol=tol)
        _agree(lambda t: mg.nuclear_norm(t, True), lambda t: torch.nuclear_norm(t, True), [a], backend, tol=tol)
        _agree(lambda t: mg.nuclear_norm(t, (0, 2), keepdim=True),
               lambda t: torch.nuclear_norm(t, (0, 2), keepdim=True), [a], backend, tol=tol)
        for dim in (1, (0, 2)):
            _agree(lambda t, d=dim: mg.frobenius_norm(t, d), lambda t, d=dim: torch.frobenius_norm(t, d), [a], backend)
        _agree(lambda t: mg.frobenius_norm(t, (0, 1), True), lambda t: torch.frobenius_norm(t, (0, 1), True), [a],
               backend)
        with pytest.raises(ValueError, match="frobenius_norm: expected at most 2 dimensions"):
            mg.frobenius_norm(mg.tensor(a), (0, 1, 2))
        with pytest.raises(ValueError, match="dim"):
            mg.nuclear_norm(mg.tensor(a), (0,))


@pytest.mark.parametrize("name, advice", [("matrix_rank", "linalg.matrix_rank"), ("solve", "linalg.solve(A, B)"),
                                          ("lstsq", "linalg.lstsq(A, B).solution"), ("symeig", "linalg.eigh"),
                                          ("eig", "linalg.eigh")])
def test_removed_linalg_functions_raise_with_the_replacement(name, advice):
    a = mg.eye(2)
    with pytest.raises(RuntimeError, match=rf"{name}: this function was deprecated since PyTorch 1.9 and is now "
                                           rf"removed(.|\n)*{advice.replace('(', '[(]').replace(')', '[)]')}"):
        getattr(mg, name)(a, a) if name in ("solve", "lstsq") else getattr(mg, name)(a)
    if name == "matrix_rank":
        assert not hasattr(a, "matrix_rank")  # not a method in PyTorch either
    else:
        with pytest.raises(RuntimeError, match="is now removed"):
            getattr(a, name)()


# -- creation: asarray, frombuffer, empty_strided, range ---------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_asarray_shares_numpy_memory(backend):
    a = np.arange(6.0).reshape(2, 3)
    t = mg.asarray(a, backend=backend)
    a[0, 0] = 99.0
    assert t.backend == backend and t.dtype == mg.float64 and t[0, 0].item() == 99.0
    t.add_(1.0)
    assert a[1, 2] == 6.0  # both ways
    strided = mg.asarray(a[:, ::2], backend=backend)
    assert strided.stride() == (3, 2) and np.shares_memory(strided.numpy(), a)  # PyTorch's strides too
    copied = mg.asarray(a, copy=True, backend=backend)
    a[0, 1] = -5.0
    assert copied[0, 1].item() == 2.0
    cast = mg.asarray(a, dtype="float32", backend=backend)
    assert cast.dtype == mg.float32 and not np.shares_memory(cast.numpy(), a)
    with pytest.raises(ValueError, match="can't alias a tensor of dtype float64 into dtype float32"):
        mg.asarray(a, dtype="float32", copy=False)


def test_asarray_of_tensors_lists_and_buffers():
    x = mg.ones(2)
    assert mg.asarray(x) is x and mg.asarray(x, dtype="float32") is x and mg.asarray(x, copy=False) is x
    copied = mg.asarray(x, copy=True)
    assert copied is not x and copied.tolist() == [1.0, 1.0]
    assert mg.asarray(x, requires_grad=True) is x and x.requires_grad  # PyTorch: the tensor itself, now requiring grad
    y = mg.asarray(x, dtype="float64")
    assert y.grad_fn is not None and y.dtype == mg.float64  # None keeps the graph (PyTorch's default now)
    assert not mg.asarray(x, requires_grad=False).requires_grad and x.requires_grad  # detached; x unchanged
    with pytest.raises(ValueError, match="can't alias list into a tensor"):
        mg.asarray([1.0], copy=False)
    buffer = bytearray(8)
    view = mg.asarray(buffer, dtype="int16")
    view[1] = 7
    assert bytes(buffer)[2:4] == b"\x07\x00" and mg.asarray(bytearray(8)).dtype == mg.float32
    with pytest.raises(TypeError, match="only floating-point tensors can require gradients"):
        mg.asarray([1, 2], requires_grad=True)


def test_asarray_of_lists_and_numbers_matches_pytorch():
    for obj in ([1, 2.5], [1, 2], 3.0, np.float64(2.0), [[True, False]], np.arange(3, dtype=np.int32)):
        ours, theirs = mg.asarray(obj), torch.asarray(obj)
        assert ours.dtype.name == str(theirs.dtype).removeprefix("torch.")
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_asarray_of_a_read_only_array_warns_as_pytorch():
    a = np.arange(3.0)
    a.flags.writeable = False
    with pytest.warns(UserWarning, match="not writable"):
        t = mg.asarray(a)
    assert np.shares_memory(t.numpy(), a)


@pytest.mark.parametrize("backend", BACKENDS)
def test_frombuffer_shares_the_buffer(backend):
    buffer = bytearray(b"\x01\x00\x02\x00\x03\x00\x04\x00")
    with mg.backend(backend):
        t = mg.frombuffer(buffer, dtype=mg.int16)
        part = mg.frombuffer(buffer, dtype="int16", count=2, offset=2)
    assert t.backend == backend and t.tolist() == [1, 2, 3, 4] and part.tolist() == [2, 3]
    t[0] = 9
    part[1] = 8
    assert bytes(buffer)[:6] == b"\x09\x00\x02\x00\x08\x00"
    assert mg.frombuffer(bytearray(8), dtype="float32", requires_grad=True).requires_grad


def test_frombuffer_matches_pytorch():
    buffer = bytearray(b"\x01\x00\x02\x00\x03\x00\x04\x00")
    for kwargs in ({"dtype": torch.int16}, {"dtype": torch.int16, "count": 2, "offset": 2},
                   {"dtype": torch.uint8, "offset": 7}):
        ours = mg.frombuffer(bytearray(buffer), **{**kwargs, "dtype": str(kwargs["dtype"]).removeprefix("torch.")})
        np.testing.assert_array_equal(ours.numpy(), torch.frombuffer(bytearray(buffer), **kwargs).numpy())


def test_frombuffer_errors_and_read_only_buffers():
    with pytest.raises(TypeError, match="dtype"):
        mg.frombuffer(bytearray(8))  # keyword-only and required, as PyTorch's
    with pytest.raises(ValueError, match=r"requested buffer length \(5 \* 2 bytes\)"):
        mg.frombuffer(bytearray(8), dtype="int16", count=5)
    with pytest.raises(ValueError, match=r"offset \(9 bytes\) must be non-negative"):
        mg.frombuffer(bytearray(8), dtype="int16", offset=9)
    with pytest.raises(ValueError, match=r"buffer length \(3 bytes\) after offset \(0 bytes\) must be a multiple"):
        mg.frombuffer(bytearray(3), dtype="int16")
    with pytest.raises(ValueError, match="must not be 0"):
        mg.frombuffer(bytearray(0), dtype="int16")
    with pytest.raises(ValueError, match="does not implement Python buffer protocol"):
        mg.frombuffer([1, 2], dtype="float64")
    with pytest.warns(UserWarning, match="not writable"):
        assert mg.frombuffer(b"\x01\x00", dtype="int16").tolist() == [1]


@pytest.mark.parametrize("backend", BACKENDS)
def test_empty_strided(backend):
    for size, stride in (((2, 3), (1, 2)), ((2, 3), (3, 1)), ((4,), (2,)), ((2, 0), (1, 1))):
        t = mg.empty_strided(size, stride, backend=backend)
        assert t.shape == size and t.stride() == stride and t.dtype == mg.float32 and t.backend == backend
    t = mg.empty_strided((2, 2), (2, 1), dtype="float64", requires_grad=True, device="cpu")
    assert t.dtype == mg.float64 and t.requires_grad and t.is_leaf
    assert mg.ones(1, dtype="int32").new_empty_strided((2,), (1,)).dtype == mg.int32
    with pytest.raises(ValueError, match="empty_strided: mismatch in length"):
        mg.empty_strided((2, 3), (1,))
    with pytest.raises(ValueError, match="empty_strided: sizes and strides must be non-negative"):
        mg.empty_strided((2, 3), (-1, 1))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("args, dtype", [((0, 3), None), ((1, 2, 0.25), None), ((3, 0, -1), None),
                                         ((0, 1, 0.1), "float64"), ((0, 10, 3), "int64"), ((-1.5, 2.5, 0.7), "float64"),
                                         ((2, 2), None)])
def test_range_includes_end_and_warns(args, dtype, backend):
    with pytest.warns(UserWarning, match="minigrad.range is deprecated"):
        ours = mg.range(*args, dtype=dtype, backend=backend)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = torch.range(*args, dtype=None if dtype is None else getattr(torch, dtype))
    assert ours.backend == backend and ours.dtype.name == str(theirs.dtype).removeprefix("torch.")
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())  # bit for bit


def test_range_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="range: step must be nonzero"):
            mg.range(0, 3, 0)
        with pytest.raises(ValueError, match="inconsistent with step sign"):
            mg.range(3, 0)


# -- unravel_index, gradient, histogramdd, nonzero_static, fill, unsafe splits ----------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("indices, shape", [([4, 1, 11], (3, 4)), (7, (2, 4)), (-1, (3, 4)), ([12, 25], (3, 4)),
                                            ([[1, 5]], (2, 3)), ([5], 3), (0, ()), ([1234, 5678], (10, 10, 10, 10))])
def test_unravel_index_matches_pytorch(indices, shape, backend):
    ours = mg.unravel_index(mg.tensor(indices, backend=backend), shape)
    theirs = torch.unravel_index(torch.tensor(indices), shape)
    assert isinstance(ours, tuple) and len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert a.backend == backend and a.dtype == mg.int64 and tuple(a.shape) == tuple(b.shape)
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert mg.unravel_index(mg.tensor([5], dtype="int32"), (2, 3))[1].dtype == mg.int64


def test_unravel_index_errors():
    with pytest.raises(TypeError, match="expected 'indices' to be integer dtype, but got float32"):
        mg.unravel_index(mg.tensor([1.0]), (2, 3))
    with pytest.raises(TypeError, match="expected a tensor"):
        mg.unravel_index(3, (2, 3))
    with pytest.raises(ValueError, match=r"positive sizes, got \(2, -1\)"):
        mg.unravel_index(mg.tensor(0), (2, -1))
    with pytest.raises(TypeError, match="'shape'"):
        mg.unravel_index(mg.tensor(0), (2.0, 3))


GRADIENT_CASES = [
    ({}, (3, 4)), ({"dim": 1}, (3, 4)), ({"dim": [-1, 0]}, (3, 4)), ({"spacing": 2.0}, (3, 4)),
    ({"spacing": [2.0, 0.5]}, (3, 4)), ({"spacing": [3], "dim": 1}, (3, 4)), ({"edge_order": 2}, (3, 4)),
    ({"edge_order": 2, "spacing": 0.5, "dim": 0}, (4, 2, 3)), ({}, (5,)), ({"edge_order": 1}, (2, 2)),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kwargs, shape", GRADIENT_CASES)
def test_gradient_with_scalar_spacing_matches_pytorch(kwargs, shape, backend):
    x = np.random.default_rng(15).standard_normal(shape)
    _agree(lambda t: mg.gradient(t, **kwargs), lambda t: torch.gradient(t, **kwargs), [x], backend)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("edge_order", [1, 2])
def test_gradient_with_coordinates_is_differentiable_in_both(edge_order, backend):
    rng = np.random.default_rng(16)
    x, rows, cols = rng.standard_normal((3, 4)), np.array([0.0, 1.0, 3.0]), np.array([0.0, 2.0, 3.0, 7.0])
    _agree(lambda t, r, c: mg.gradient(t, spacing=(r, c), edge_order=edge_order),
           lambda t, r, c: torch.gradient(t, spacing=(r, c), edge_order=edge_order), [x, rows, cols], backend)
    _agree(lambda t, c: mg.gradient(t, spacing=[c], dim=1, edge_order=edge_order),
           lambda t, c: torch.gradient(t, spacing=[c], dim=1, edge_order=edge_order), [x, cols], backend)


def test_gradient_of_integers_matches_pytorch():
    for kwargs in ({}, {"spacing": 2}, {"spacing": 0.5}, {"spacing": [mg.tensor([0, 1, 3])]}):
        theirs_kwargs = {k: [torch.tensor(v[0].numpy())] if isinstance(v, list) else v for k, v in kwargs.items()}
        (ours,), (theirs,) = mg.gradient(mg.tensor([1, 2, 4]), **kwargs), torch.gradient(torch.tensor([1, 2, 4]),
                                                                                         **theirs_kwargs)
        assert ours.dtype.name == str(theirs.dtype).removeprefix("torch.")
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


def test_gradient_errors():
    assert mg.gradient(mg.tensor(1.0)) == ()
    x = mg.zeros(3, 4)
    with pytest.raises(ValueError, match="only supports edge_order=1 and edge_order=2"):
        mg.gradient(x, edge_order=3)
    with pytest.raises(ShapeError, match="at least edge_order"):
        mg.gradient(mg.zeros(2), edge_order=2)
    with pytest.raises(ValueError, match=r"one entry per dimension of the input \(2 dimensions\), got a list of "
                                         r"length 1"):
        mg.gradient(x, spacing=[2.0])
    with pytest.raises(ShapeError, match="coordinates of dimension 0 must be a 1-D tensor of its size 3"):
        mg.gradient(x, spacing=[mg.tensor([0.0, 1.0])], dim=0)  # PyTorch computes a wrong shape
    with pytest.raises(ValueError, match="names a dimension twice"):
        mg.gradient(x, dim=[0, 0])


HIST_CASES = [
    {"bins": [2, 2]}, {"bins": 3}, {"bins": [2, 3], "range": [0.0, 1.0, 0.0, 1.0]}, {"bins": 2, "density": True},
    {"bins": [3, 2], "weight": True}, {"bins": [3, 2], "weight": True, "density": True}, {"bins": "edges"},
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", HIST_CASES)
@pytest.mark.parametrize("points", [np.array([[0.0, 0.0], [1.0, 1.0], [0.5, 0.2], [2.0, 0.0], [0.3, 0.9]]),
                                    np.random.default_rng(17).standard_normal((3, 4, 3))])
def test_histogramdd_matches_pytorch(case, points, backend):
    dims = points.shape[-1]
    ours_kw, theirs_kw = dict(case), dict(case)
    if case["bins"] == "edges":
        edges = [np.sort(np.random.default_rng(d).uniform(-1, 1.5, 3 + d)) for d in range(dims)]
        ours_kw["bins"] = [mg.tensor(e, backend=backend) for e in edges]
        theirs_kw["bins"] = [torch.tensor(e) for e in edges]
    elif isinstance(case["bins"], list):
        ours_kw["bins"] = theirs_kw["bins"] = (case["bins"] * dims)[:dims]
    if "range" in case:
        ours_kw["range"] = theirs_kw["range"] = case["range"] + [-1.0, 1.0] * (dims - 2)
    if case.get("weight"):
        w = np.random.default_rng(18).uniform(0.5, 2.0, points.shape[:-1])
        ours_kw["weight"], theirs_kw["weight"] = mg.tensor(w, backend=backend), torch.tensor(w)
    hist, edges_m = mg.histogramdd(mg.tensor(points, backend=backend), **ours_kw)
    expected = torch.histogramdd(torch.tensor(points), **theirs_kw)
    assert hist.backend == backend and hist.dtype == mg.float64 and isinstance(edges_m, tuple)
    np.testing.assert_allclose(hist.numpy(), expected.hist.numpy(), **TOL)
    for ours, theirs in zip(edges_m, expected.bin_edges, strict=True):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_histogramdd_of_equal_and_no_points_matches_pytorch():
    for points in ([[1.0, 1.0], [1.0, 1.0]], np.zeros((0, 2))):
        ours = mg.histogramdd(mg.tensor(points), 2)
        theirs = torch.histogramdd(torch.tensor(points, dtype=torch.float32), 2)
        np.testing.assert_array_equal(ours.hist.numpy(), theirs.hist.numpy())
        for a, b in zip(ours.bin_edges, theirs.bin_edges):
            np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_histogramdd_errors():
    pts = mg.zeros(4, 2)
    with pytest.raises(ShapeError, match="at least 2 dimensions"):
        mg.histogramdd(mg.zeros(3), 2)
    with pytest.raises(ValueError, match=r"one entry per dimension of the points \(2\), got 3"):
        mg.histogramdd(pts, [2, 2, 2])
    with pytest.raises(ValueError, match="range should have 4 elements, but got 2"):
        mg.histogramdd(pts, 2, range=[0.0, 1.0])
    with pytest.raises(ValueError, match="min should not exceed max"):
        mg.histogramdd(pts, 2, range=[1.0, 0.0, 0.0, 1.0])
    with pytest.raises(ValueError, match="not finite"):
        mg.histogramdd(mg.tensor([[np.nan, 1.0], [1.0, 1.0]]), 2)
    with pytest.raises(TypeError, match="floating point"):
        mg.histogramdd(mg.zeros(4, 2, dtype="int64"), 2)
    with pytest.raises(ShapeError, match=r"weight of shape \(3,\) must have the shape of the points, \(4,\)"):
        mg.histogramdd(pts, 2, weight=mg.ones(3))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("values, size, fill_value", [([[0, 1], [2, 0]], 3, -1), ([[0, 1], [2, 0]], 1, 5),
                                                      ([0.0, 1.0, 3.0], 2, -1), (3.0, 2, -1), ([0, 0], 2, 7),
                                                      ([[1, 1]], 0, -1)])
def test_nonzero_static_matches_pytorch(values, size, fill_value, backend):
    ours = mg.nonzero_static(mg.tensor(values, backend=backend), size=size, fill_value=fill_value)
    theirs = torch.nonzero_static(torch.tensor(values), size=size, fill_value=fill_value)
    assert ours.backend == backend and ours.dtype == mg.int64 and tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert mg.tensor(values).nonzero_static(size=size, fill_value=fill_value).shape == ours.shape
    with pytest.raises(TypeError):
        mg.nonzero_static(mg.tensor(values), size)  # size is keyword-only
    with pytest.raises(ValueError, match="'size' must be a non-negative int"):
        mg.nonzero_static(mg.tensor(values), size=-1)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("value", [3.0, 0.0])
def test_nonzero_and_argwhere_of_a_0d_tensor_match_pytorch(value, backend):
    x, t = mg.tensor(value, backend=backend), torch.tensor(value)
    for ours, theirs in ((mg.nonzero(x), torch.nonzero(t)), (mg.argwhere(x), torch.argwhere(t)),
                         (x.nonzero(), t.nonzero())):
        assert tuple(ours.shape) == tuple(theirs.shape) and ours.dtype == mg.int64
    (ours,), (theirs,) = x.nonzero(as_tuple=True), t.nonzero(as_tuple=True)
    assert ours.tolist() == theirs.tolist()


@pytest.mark.parametrize("backend", BACKENDS)
def test_fill_and_fill__give_a_tensor_value_its_gradient(backend):
    rng = np.random.default_rng(19)
    x, v = rng.standard_normal((2, 3)), np.array(0.7)
    _agree(lambda t, val: mg.fill(t, val) * t, lambda t, val: torch.fill(t, val) * t, [x, v], backend)
    _agree(lambda t: mg.fill(t, 2.5), lambda t: torch.fill(t, 2.5), [x], backend)

    def in_place(lib):
        return lambda t, val: (t * 1).fill_(val) * t

    _agree(in_place(mg), in_place(torch), [x, v], backend)


def test_fill_errors():
    with pytest.raises(ShapeError, match="fill: the value must be a number or a 0-d tensor"):
        mg.fill(mg.zeros(2), mg.tensor([1.0]))
    with pytest.raises(ShapeError, match="0-d tensor"):
        mg.zeros(2).fill_(mg.tensor([1.0]))


@pytest.mark.parametrize("backend", BACKENDS)
def test_unsafe_chunk_and_splits_are_chunk_and_split(backend):
    x = np.random.default_rng(20).standard_normal((5, 2))
    _agree(lambda t: mg.unsafe_chunk(t, 2), lambda t: torch.unsafe_chunk(t, 2), [x], backend)
    _agree(lambda t: t.unsafe_split(2, 0), lambda t: t.unsafe_split(2, 0), [x], backend)
    _agree(lambda t: mg.unsafe_split_with_sizes(t, [1, 4]), lambda t: torch.unsafe_split_with_sizes(t, [1, 4]), [x],
           backend)
    _agree(lambda t: t.unsafe_chunk(2, 1), lambda t: t.unsafe_chunk(2, 1), [x], backend)


# -- Tensor methods: apply_, map_, map2_, svd/qr (above), pinning, layout, type names -----------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_apply_and_map_call_python_per_element_as_pytorch(backend):
    cases = [
        (lambda lib: lib.ones(3).apply_(lambda v: v * 2 + 1)),
        (lambda lib: lib.arange(3).apply_(lambda v: v * 2.7)),  # cast back to the dtype: truncated
        (lambda lib: lib.tensor([True, False]).apply_(lambda v: not v)),
        (lambda lib: lib.ones(2, 3).map_(lib.arange(3.0), lambda a, b: a + 10 * b)),
        (lambda lib: lib.arange(3.0).map2_(lib.ones(1), lib.tensor([[2.0], [3.0]]).expand(2, 3)[0],
                                           lambda a, b, c: a * c - b)),
    ]
    for case in cases:
        with mg.backend(backend):
            ours = case(mg)
        theirs = case(torch)
        assert ours.backend == backend and ours.dtype.name == str(theirs.dtype).removeprefix("torch.")
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    seen = []
    mg.tensor([1, 2]).apply_(lambda v: seen.append(type(v)) or v)
    assert seen == [int, int]


def test_apply_and_map_errors():
    with pytest.raises(RuntimeError, match=r"Can't call apply_\(\) on Variable that requires grad"):
        mg.ones(2, requires_grad=True).apply_(abs)
    with mg.no_grad(), pytest.raises(RuntimeError, match="requires grad"):
        mg.ones(2, requires_grad=True).apply_(abs)  # PyTorch refuses under no_grad too
    with pytest.raises(TypeError, match="apply_: the function must return a real number, got str"):
        mg.ones(1).apply_(lambda v: "a")
    with pytest.raises(TypeError, match="map_: expected a float32 tensor, as self, got int64"):
        mg.ones(3).map_(mg.arange(3), lambda a, b: a + b)
    with pytest.raises(ShapeError, match=r"map_: a tensor of shape \(2, 3\) does not broadcast to self's shape \(3,\)"):
        mg.ones(3).map_(mg.ones(2, 3), lambda a, b: a + b)
    x = mg.ones(2)
    y = x * 2
    (y * x).sum()  # a graph that saved x and y
    x.apply_(lambda v: v + 1)
    assert x._version == 1  # an in-place change, seen by the graphs


def test_pinning_layout_meta_and_type_names():
    x = mg.ones(2)
    assert x.is_pinned() is False and x.is_meta is False and x.layout is mg.strided and repr(mg.strided) == \
        "minigrad.strided" and isinstance(mg.strided, mg.layout)
    if not mg.cuda.is_available():
        with pytest.raises(RuntimeError, match="Cannot access accelerator device when none is available."):
            x.pin_memory()
    else:
        assert x.pin_memory() is x
    assert isinstance(x.dtype, mg.dtype) and isinstance(mg.float64, mg.dtype)
    for dtype, name in (("float32", "FloatTensor"), ("float64", "DoubleTensor"), ("int64", "LongTensor"),
                        ("int32", "IntTensor"), ("int16", "ShortTensor"), ("int8", "CharTensor"),
                        ("uint8", "ByteTensor"), ("bool", "BoolTensor")):
        t = mg.zeros(1, dtype=dtype)
        assert t.type() == mg.typename(t) == f"minigrad.{name}"  # PyTorch's f"torch.{name}"
    assert x.type("float64").dtype == mg.float64 and x.type(mg.int64).dtype == mg.int64
    assert mg.typename(3) == "int" and mg.typename("x") == "str" and mg.typename(np.zeros(1)) == "numpy.ndarray"
    assert mg.typename(mg.nn.Linear) == "minigrad.nn.layers.Linear" == mg.typename(mg.nn.Linear(1, 1))
    assert mg.typename(mg.typename) == "minigrad.tensor.typename"


# -- process-wide switches -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_default_device_follows_and_sets_the_backend(backend):
    saved = mg.backends._default
    try:
        mg.set_backend(backend)
        assert mg.get_default_device() == mg.device("cpu")
        mg.set_default_device("cpu")
        assert mg.get_backend() == backend  # a host backend stays the default for "cpu"
        mg.set_default_device(None)
        assert mg.get_backend() == backend and mg.zeros(1).backend == backend
        with pytest.raises(ValueError, match="unknown device type 'foo'"):
            mg.set_default_device("foo")
        with pytest.raises(TypeError, match="expected a device or a string"):
            mg.set_default_device(3)
    finally:
        mg.backends._default = saved


def test_interop_threads_flush_denormal_and_deterministic_debug_mode(monkeypatch):
    monkeypatch.setattr(runtime, "_interop_threads", [])
    assert mg.get_num_interop_threads() >= 1
    with pytest.raises(ValueError, match="positive int"):
        mg.set_num_interop_threads(0)
    mg.set_num_interop_threads(3)
    assert mg.get_num_interop_threads() == 3
    with pytest.raises(RuntimeError, match="cannot set the number of interop threads"):
        mg.set_num_interop_threads(2)  # once, as PyTorch
    assert mg.set_flush_denormal(True) is False and mg.set_flush_denormal(False) is False
    with pytest.raises(TypeError, match="bool"):
        mg.set_flush_denormal(1)
    try:
        for mode, name in ((1, "warn"), (2, "error"), (0, "default")):
            for spelling in (mode, name):
                mg.set_deterministic_debug_mode(spelling)
                assert mg.get_deterministic_debug_mode() == mode
                assert mg.are_deterministic_algorithms_enabled() == (mode > 0)
                assert mg.is_deterministic_algorithms_warn_only_enabled() == (mode == 1)
        with pytest.raises(RuntimeError, match="invalid mode 3"):
            mg.set_deterministic_debug_mode(3)
        with pytest.raises(RuntimeError, match="invalid mode 'x'"):
            mg.set_deterministic_debug_mode("x")
        with pytest.raises(TypeError, match="str or an int"):
            mg.set_deterministic_debug_mode(1.0)
    finally:
        mg.use_deterministic_algorithms(False)


def test_warn_always_switch():
    assert mg.is_warn_always_enabled() is False
    try:
        mg.set_warn_always(True)
        assert mg.is_warn_always_enabled() is True
    finally:
        mg.set_warn_always(False)
    with pytest.raises(TypeError, match="bool"):
        mg.set_warn_always("yes")


def test_anomaly_switches_and_check_nan():
    assert (mg.is_anomaly_enabled(), mg.is_anomaly_check_nan_enabled()) == (False, True)
    x = mg.tensor([-1.0])
    try:
        mg.set_anomaly_enabled(True, False)
        assert (mg.is_anomaly_enabled(), mg.is_anomaly_check_nan_enabled()) == (True, False)
        assert np.isnan(x.log().item())  # enabled without the NaN check: nothing raises
        mg.set_anomaly_enabled(True)
        with pytest.raises(FloatingPointError, match="(?i)log"):
            x.log()
    finally:
        mg.set_anomaly_enabled(False)
    assert (mg.is_anomaly_enabled(), mg.is_anomaly_check_nan_enabled()) == (False, True)
    with mg.autograd.detect_anomaly(check_nan=False):
        assert mg.is_anomaly_enabled() and not mg.is_anomaly_check_nan_enabled()
        x.log()
    with mg.detect_anomaly(), pytest.raises(FloatingPointError):
        x.log()

    @mg.detect_anomaly(check_nan=False)
    def quiet_log(t):
        return t.log()

    assert np.isnan(quiet_log(x).item()) and not mg.is_anomaly_enabled()
    mg.set_detect_anomaly(True, check_nan=False)
    try:
        assert mg.is_anomaly_enabled() and not mg.is_anomaly_check_nan_enabled()
    finally:
        mg.set_detect_anomaly(False)


def test_functional_toplevel_names_are_listed_once():
    from minigrad.nn import _toplevel

    assert set(_toplevel.FUNCTIONS) == mg._FROM_NN_TOPLEVEL
    for name in mg._FROM_NN_TOPLEVEL | set(mg._FROM_NN_FUNCTIONAL):
        assert callable(getattr(mg, name))
