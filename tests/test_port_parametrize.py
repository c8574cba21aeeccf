"""``nn.utils.parametrize``, ``nn.utils.parametrizations`` (``weight_norm``, ``spectral_norm``) and the hook-based
``nn.utils.spectral_norm``: against PyTorch in float64 (state-dict keys, outputs, gradients of the originals, SGD
steps, the power iteration in training and eval mode, assignment, removal, state dicts loaded both ways), and the
behaviour and errors that need no PyTorch (``cached()``, the class swap, deep copies), on NumPy and Numba."""

from __future__ import annotations

import copy
import pickle
from types import SimpleNamespace

import numpy as np
import pytest
from _lazy_torch import torch  # PyTorch on first use; without it, only its comparisons skip

import minigrad as mg

BACKENDS = [b for b in mg.testing.available_backends() if b != "cupy"]
TOL = {"rtol": 1e-12, "atol": 1e-13}

LAYERS = {  # kind: (layer, input shape)
    "linear": (lambda lib: lib.nn.Linear(4, 3), (5, 4)),  # a wide weight
    "square": (lambda lib: lib.nn.Linear(4, 4), (5, 4)),
    "tall": (lambda lib: lib.nn.Linear(3, 5), (5, 3)),
    "conv2d": (lambda lib: lib.nn.Conv2d(2, 3, 3), (2, 2, 6, 6)),
    "conv_transpose2d": (lambda lib: lib.nn.ConvTranspose2d(3, 2, 3), (2, 3, 4, 4)),
}


def _lib(name):
    return mg if name == "minigrad" else torch


def _custom(lib):
    """The same user parametrizations, written once per library."""

    class Double(lib.nn.Module):
        def forward(self, x):
            return 2 * x

        def right_inverse(self, x):
            return x / 2

    class Split(lib.nn.Module):  # two originals: x = a + tanh(b)
        def forward(self, a, b):
            return a + b.tanh()

        def right_inverse(self, x):
            return x - (x / 2).tanh(), x / 2

    class Shift(lib.nn.Module):  # no right_inverse
        def forward(self, x):
            return x + 1

    class Rows(lib.nn.Module):  # changes the shape
        def forward(self, x):
            return x[:2]

    class Single(lib.nn.Module):  # changes the dtype
        def forward(self, x):
            return x.float()

    class NotTensor(lib.nn.Module):
        def forward(self, x):
            return x

        def right_inverse(self, x):
            return 1.0

    return SimpleNamespace(double=Double, split=Split, shift=Shift, rows=Rows, single=Single, not_tensor=NotTensor)


def _chain(lib, module, _):
    """Split then Double on the weight: weight = 2 * (original0 + tanh(original1))."""
    custom = _custom(lib)
    lib.nn.utils.parametrize.register_parametrization(module, "weight", custom.split())
    return lib.nn.utils.parametrize.register_parametrization(module, "weight", custom.double())


def _double(lib, module, _):
    return lib.nn.utils.parametrize.register_parametrization(module, "weight", _custom(lib).double())


def _weight_norm(lib, module, dim):
    return lib.nn.utils.parametrizations.weight_norm(module, dim=dim)


def _spectral_norm(lib, module, dim):
    return lib.nn.utils.parametrizations.spectral_norm(module, dim=dim)


def _old_spectral_norm(lib, module, dim):
    return lib.nn.utils.spectral_norm(module, dim=dim)


def _orthogonal(orthogonal_map, use_trivialization):
    def parametrize(lib, module, _):
        return lib.nn.utils.parametrizations.orthogonal(module, orthogonal_map=orthogonal_map,
                                                        use_trivialization=use_trivialization)
    return parametrize


def _to_numpy(t):
    return t.detach().cpu().numpy() if hasattr(t, "cpu") else t.detach().numpy()


def _pair(kind, parametrize, dim, backend):
    """One layer in PyTorch and in minigrad (float64, parametrized alike); minigrad's gets PyTorch's state dict, as
    NumPy arrays (its power-iteration vectors too, so that both iterate from the same start)."""
    make, shape = LAYERS[kind]
    torch.manual_seed(0)
    theirs = parametrize(torch, make(torch).double(), dim)
    ours = parametrize(mg, make(mg).double(), dim).to(backend)
    theirs_state = {k: _to_numpy(v) for k, v in theirs.state_dict().items()}
    assert list(ours.state_dict()) == list(theirs_state)
    ours.load_state_dict(theirs_state)
    return theirs, ours, np.random.default_rng(1).standard_normal(shape)


def _run(lib, module, x, steps, backend):
    """``steps`` SGD steps under a random upstream gradient; per step the output and every parameter's gradient,
    then the state dict and the parametrized weight."""
    def as_tensor(a):
        return mg.tensor(a, backend=backend) if lib is mg else torch.tensor(a)

    opt = lib.optim.SGD(module.parameters(), lr=0.1)
    record = []
    for step in range(steps):
        opt.zero_grad()
        out = module(as_tensor(x))
        (out * as_tensor(np.random.default_rng(10 + step).standard_normal(tuple(out.shape)))).sum().backward()
        record += [_to_numpy(out)] + [_to_numpy(p.grad) for _, p in module.named_parameters()]
        opt.step()
    record += [_to_numpy(v) for v in module.state_dict().values()] + [_to_numpy(module.weight)]
    return record


def _assert_all_close(ours, theirs):
    assert len(ours) == len(theirs)
    for i, (got, expected) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(got, expected, err_msg=f"entry {i}", **TOL)


PARAMETRIZATIONS = [  # (layer, how it is parametrized, dim)
    ("linear", _chain, None), ("conv2d", _chain, None), ("conv2d", _double, None),
    ("linear", _weight_norm, 0), ("linear", _weight_norm, 1), ("conv2d", _weight_norm, 0),
    ("conv2d", _weight_norm, None), ("conv_transpose2d", _weight_norm, 1),
    ("linear", _spectral_norm, None), ("conv2d", _spectral_norm, None), ("conv2d", _spectral_norm, 2),
    ("conv_transpose2d", _spectral_norm, None),
]
HOOKS = [("linear", _old_spectral_norm, None), ("conv2d", _old_spectral_norm, None),
         ("conv_transpose2d", _old_spectral_norm, None)]


def _ids(cases):
    return [f"{kind}-{parametrize.__name__[1:]}-{dim}" for kind, parametrize, dim in cases]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind, parametrize, dim", PARAMETRIZATIONS + HOOKS, ids=_ids(PARAMETRIZATIONS + HOOKS))
def test_training_steps_equal_pytorchs(kind, parametrize, dim, backend):
    """Outputs, the originals' gradients and the state after three SGD steps in training mode (the power iteration
    runs at each call), then two calls in eval mode (where it does not)."""
    theirs, ours, x = _pair(kind, parametrize, dim, backend)
    _assert_all_close(_run(mg, ours, x, 3, backend), _run(torch, theirs, x, 3, backend))
    ours.eval(), theirs.eval()
    _assert_all_close(_run(mg, ours, x, 2, backend), _run(torch, theirs, x, 2, backend))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind, parametrize, dim", PARAMETRIZATIONS, ids=_ids(PARAMETRIZATIONS))
@pytest.mark.parametrize("leave_parametrized", [True, False])
def test_remove_parametrizations_equals_pytorchs(kind, parametrize, dim, backend, leave_parametrized):
    theirs, ours, x = _pair(kind, parametrize, dim, backend)
    _run(mg, ours, x, 1, backend), _run(torch, theirs, x, 1, backend)
    originals = dict(ours.parametrizations.weight.named_parameters())
    if leave_parametrized is False and "original" not in originals:
        for lib, module in ((mg, ours), (torch, theirs)):
            with pytest.raises(ValueError, match="Cannot leave unparametrized"):
                lib.nn.utils.parametrize.remove_parametrizations(module, "weight", leave_parametrized=False)
        return
    for lib, module in ((mg, ours), (torch, theirs)):
        lib.nn.utils.parametrize.remove_parametrizations(module, "weight", leave_parametrized=leave_parametrized)
        assert type(module).__name__ == LAYERS[kind][0](lib).__class__.__name__
    assert list(ours.state_dict()) == list(theirs.state_dict())
    if "original" in originals:
        assert ours.weight is originals["original"]  # same object: an optimizer keeps updating it
    assert isinstance(ours.weight, mg.nn.Parameter)
    _assert_all_close(_run(mg, ours, x, 1, backend), _run(torch, theirs, x, 1, backend))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", ["linear", "conv2d"])
def test_old_remove_spectral_norm_equals_pytorchs(kind, backend):
    theirs, ours, x = _pair(kind, _old_spectral_norm, None, backend)
    _run(mg, ours, x, 2, backend), _run(torch, theirs, x, 2, backend)
    for lib, module in ((mg, ours), (torch, theirs)):
        lib.nn.utils.remove_spectral_norm(module)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    _assert_all_close(_run(mg, ours, x, 1, backend), _run(torch, theirs, x, 1, backend))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind, parametrize, dim", PARAMETRIZATIONS[::2], ids=_ids(PARAMETRIZATIONS[::2]))
def test_assignment_and_a_state_dict_loaded_into_pytorch(kind, parametrize, dim, backend):
    """``module.weight = value`` goes through the right_inverse chain into the originals; minigrad's state dict
    (after training) loads into PyTorch's module and gives the same outputs."""
    theirs, ours, x = _pair(kind, parametrize, dim, backend)
    value = np.random.default_rng(3).standard_normal(tuple(theirs.weight.detach().shape))
    _to_numpy(ours.weight)  # each read runs the power iteration: read both
    ours.weight = mg.tensor(value, backend=backend)
    theirs.weight = torch.tensor(value)
    np.testing.assert_allclose(_to_numpy(ours.weight), _to_numpy(theirs.weight), **TOL)
    _run(mg, ours, x, 2, backend)
    theirs.load_state_dict({k: torch.tensor(_to_numpy(v)) for k, v in ours.state_dict().items()})
    ours.eval(), theirs.eval()
    _assert_all_close(_run(mg, ours, x, 1, backend), _run(torch, theirs, x, 1, backend))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", ["square", "tall", "linear", "conv2d"])  # conv2d: a batch of 3x3 matrices
@pytest.mark.parametrize("orthogonal_map", ["matrix_exp", "cayley", "householder"])
@pytest.mark.parametrize("use_trivialization", [True, False])
def test_orthogonal_equals_pytorchs(kind, orthogonal_map, use_trivialization, backend):
    """``orthogonal`` in training mode, from PyTorch's ``original`` and ``base``: the steps keep the weight
    orthogonal and equal PyTorch's."""
    theirs, ours, x = _pair(kind, _orthogonal(orthogonal_map, use_trivialization), None, backend)
    _assert_all_close(_run(mg, ours, x, 3, backend), _run(torch, theirs, x, 3, backend))
    weight = ours.weight.detach().numpy()
    if weight.shape[-2] < weight.shape[-1]:
        weight = np.swapaxes(weight, -2, -1)
    np.testing.assert_allclose(np.swapaxes(weight, -2, -1) @ weight, np.broadcast_to(np.eye(weight.shape[-1]),
                               weight.shape[:-2] + (weight.shape[-1],) * 2), atol=1e-14)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", ["square", "tall", "linear"])
@pytest.mark.parametrize("orthogonal_map, use_trivialization", [("matrix_exp", True), ("cayley", True),
                                                                ("householder", True), ("householder", False)])
def test_orthogonal_assignment(kind, orthogonal_map, use_trivialization, backend):
    """Assigning an orthogonal matrix makes it the weight (through ``base`` with the trivialization, through the
    Householder reflectors without)."""
    layer = LAYERS[kind][0](mg).double().to(backend)
    mg.nn.utils.parametrizations.orthogonal(layer, orthogonal_map=orthogonal_map,
                                            use_trivialization=use_trivialization)
    shape = layer.weight.shape
    q, _ = np.linalg.qr(np.random.default_rng(4).standard_normal((max(shape), min(shape))))
    q = q if shape[0] >= shape[1] else q.T
    layer.weight = mg.tensor(q, backend=backend)
    np.testing.assert_allclose(layer.weight.detach().numpy(), q, atol=1e-14)


def test_repr_class_and_state_dict_keys_equal_pytorchs():
    for make in (lambda lib: _weight_norm(lib, lib.nn.Conv2d(2, 3, 3), 0),
                 lambda lib: _spectral_norm(lib, _chain(lib, lib.nn.Linear(3, 3), 0), None),
                 lambda lib: _double(lib, lib.nn.BatchNorm1d(3), 0),
                 lambda lib: _old_spectral_norm(lib, lib.nn.Linear(3, 3), None)):
        ours, theirs = make(mg), make(torch)
        assert repr(ours) == repr(theirs)
        assert list(ours.state_dict()) == list(theirs.state_dict())
        assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    bn = mg.nn.utils.parametrize.register_parametrization(mg.nn.BatchNorm1d(3), "running_mean", _custom(mg).double())
    assert not isinstance(bn.parametrizations.running_mean.original, mg.nn.Parameter)  # a buffer stays one
    assert "parametrizations.running_mean.original" in bn.state_dict()


@pytest.mark.parametrize("backend", BACKENDS)
def test_one_dimensional_spectral_norm_is_the_unit_vector(backend):
    linear = mg.nn.Linear(4, 3).double().to(backend)
    bias = linear.bias.detach().numpy().copy()
    mg.nn.utils.parametrizations.spectral_norm(linear, "bias")
    np.testing.assert_allclose(linear.bias.detach().numpy(), bias / np.linalg.norm(bias), rtol=1e-15)
    assert list(linear.state_dict()) == ["weight", "parametrizations.bias.original"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_spectral_norm_normalises_by_the_largest_singular_value(backend):
    mg.manual_seed(0)
    conv = mg.nn.utils.parametrizations.spectral_norm(mg.nn.Conv2d(3, 4, 3).double().to(backend))
    weight = conv.weight.detach().numpy().reshape(4, -1)
    np.testing.assert_allclose(np.linalg.norm(weight, 2), 1.0, rtol=1e-6)  # 17 power-method steps
    u, v = conv.parametrizations.weight[0]._u, conv.parametrizations.weight[0]._v
    assert u.backend == v.backend == backend
    conv.eval()
    before = u.detach().numpy().copy()
    conv(mg.randn(1, 3, 5, 5, dtype="float64", backend=backend))
    np.testing.assert_array_equal(u.detach().numpy(), before)  # no power iteration in eval mode
    conv.train()
    conv(mg.randn(1, 3, 5, 5, dtype="float64", backend=backend))
    assert conv.parametrizations.weight[0].training


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_forwards_then_one_backward(backend):
    """A GAN discriminator's pattern: two calls in training mode (each updates ``_u``, ``_v`` in place) before one
    backward, which the clones of ``_u`` and ``_v`` make possible."""
    for register in (mg.nn.utils.parametrizations.spectral_norm, mg.nn.utils.spectral_norm):
        linear = register(mg.nn.Linear(4, 3).double().to(backend))
        x = mg.randn(2, 4, dtype="float64", backend=backend)
        (linear(x).sum() - linear(2 * x).sum()).backward()
        assert all(p.grad is not None for p in linear.parameters())


@pytest.mark.parametrize("backend", BACKENDS)
def test_cached_computes_each_parametrized_tensor_once(backend):
    calls = []

    class Counted(mg.nn.Module):
        def forward(self, x):
            calls.append(1)
            return x * 3

    parametrize = mg.nn.utils.parametrize
    linear = parametrize.register_parametrization(mg.nn.Linear(3, 3).double().to(backend), "weight", Counted())
    calls.clear()
    with parametrize.cached():
        first = linear.weight
        with parametrize.cached():
            assert linear.weight is first
        assert linear.weight is first  # the outer block still caches
        x = mg.randn(2, 3, dtype="float64", backend=backend)
        (linear(x) + linear(x)).sum().backward()
    assert len(calls) == 1
    original = linear.parametrizations.weight.original
    np.testing.assert_allclose(original.grad.numpy(), 6 * np.ones((3, 1)) * x.numpy().sum(0), rtol=1e-14)
    assert linear.weight is not linear.weight and len(calls) == 3  # outside, each read recomputes


def test_chained_assignment_and_class_swap():
    custom = _custom(mg)
    parametrize = mg.nn.utils.parametrize
    linear = mg.nn.Linear(3, 2).double()
    optimizer_view = linear.weight
    parametrize.register_parametrization(linear, "weight", custom.double())
    assert linear.parametrizations.weight.original is optimizer_view  # the same object, halved in place
    assert type(linear).__name__ == "ParametrizedLinear" and isinstance(linear, mg.nn.Linear)
    assert parametrize.type_before_parametrizations(linear) is mg.nn.Linear
    assert parametrize.is_parametrized(linear) and parametrize.is_parametrized(linear, "weight")
    assert not parametrize.is_parametrized(linear, "bias")
    assert type(mg.nn.Linear(3, 2)) is mg.nn.Linear  # the class of other instances is untouched
    value = np.arange(6.0).reshape(2, 3)
    linear.weight = mg.tensor(value)
    np.testing.assert_allclose(optimizer_view.numpy(), value / 2, rtol=1e-15)
    np.testing.assert_allclose(linear.weight.detach().numpy(), value, rtol=1e-15)
    parametrize.register_parametrization(linear, "bias", custom.shift())
    parametrize.remove_parametrizations(linear, "weight")
    assert type(linear).__name__ == "ParametrizedLinear"  # the bias still is
    parametrize.remove_parametrizations(linear, "bias", leave_parametrized=False)
    assert type(linear) is mg.nn.Linear and not parametrize.is_parametrized(linear)
    assert not hasattr(linear, "parametrizations")


def test_deepcopy_and_pickle():
    linear = mg.nn.utils.parametrizations.weight_norm(mg.nn.Linear(3, 2).double())
    twin = copy.deepcopy(linear)
    assert type(twin) is type(linear)
    x = mg.randn(4, 3, dtype="float64")
    np.testing.assert_array_equal(twin(x).numpy(), linear(x).numpy())
    with mg.no_grad():
        twin.parametrizations.weight.original0.mul_(2.0)
    assert not np.allclose(twin(x).numpy(), linear(x).numpy())  # its own tensors
    averaged = mg.optim.swa_utils.AveragedModel(linear)
    np.testing.assert_array_equal(averaged(x).numpy(), linear(x).numpy())
    with pytest.raises(RuntimeError, match="only supported through state_dict"):
        pickle.dumps(linear)


def test_transfer_parametrizations_and_params():
    parametrize = mg.nn.utils.parametrize
    source = mg.nn.utils.parametrizations.weight_norm(mg.nn.Linear(3, 2).double())
    target = parametrize.transfer_parametrizations_and_params(source, mg.nn.Linear(3, 2).double())
    assert type(target).__name__ == "ParametrizedLinear"
    assert target.parametrizations.weight.original1 is source.parametrizations.weight.original1
    np.testing.assert_array_equal(target.weight.detach().numpy(), source.weight.detach().numpy())
    untouched = mg.nn.Linear(3, 2)
    assert parametrize.transfer_parametrizations_and_params(mg.nn.Linear(3, 2), untouched) is untouched


def _errors(lib):
    """(case, call, expected error type, message) with the same calls on either library."""
    custom = _custom(lib)
    parametrize, parametrizations, utils = lib.nn.utils.parametrize, lib.nn.utils.parametrizations, lib.nn.utils

    def linear(**kwargs):
        return lib.nn.Linear(3, 4, **kwargs).double()

    def register(parametrization, module=None, name="weight"):
        return lambda: parametrize.register_parametrization(module() if module else linear(), name,
                                                            getattr(custom, parametrization)())

    def chained():
        return register("shift")()

    def assign(value):
        def call():
            chained().weight = value(lib.zeros(4, 3, dtype=lib.float64))
        return call

    def assign_orthogonal():
        module = parametrizations.orthogonal(linear(), orthogonal_map="cayley", use_trivialization=False)
        module.weight = lib.eye(4, 3, dtype=lib.float64)

    def reshape_orthogonal():
        parametrizations.orthogonal(linear()).parametrizations.weight[0].right_inverse(lib.eye(3, dtype=lib.float64))

    return [
        ("unknown name", register("double", name="foo"), ValueError, "does not have a parameter, a buffer, or a"),
        ("shape changed", register("rows"), ValueError, "may not change the shape"),
        ("dtype changed", register("single"), ValueError, "may not change the dtype"),
        ("chained shape changed", register("rows", chained), ValueError, "may not change the shape"),
        ("right_inverse not a tensor", register("not_tensor"), ValueError, "must return a Tensor or a Sequence"),
        ("assign a Parameter", assign(lib.nn.Parameter), KeyError, "attribute 'weight'"),
        ("assign without right_inverse", assign(lambda t: t), RuntimeError, "does not implement right_inverse"),
        ("remove unparametrized", lambda: parametrize.remove_parametrizations(linear(), "weight"), ValueError,
         "does not have a parametrization on weight"),
        ("spectral_norm no iterations", lambda: parametrizations.spectral_norm(linear(), n_power_iterations=0),
         ValueError, "Expected n_power_iterations to be positive"),
        ("spectral_norm dim", lambda: parametrizations.spectral_norm(linear(), dim=2), IndexError,
         "Dimension out of range"),
        ("spectral_norm name", lambda: parametrizations.spectral_norm(linear(), "foo"), ValueError,
         "has no parameter or buffer with name 'foo'"),
        ("old spectral_norm twice", lambda: utils.spectral_norm(utils.spectral_norm(linear())), RuntimeError,
         "Cannot register two spectral_norm hooks"),
        ("old spectral_norm name", lambda: utils.spectral_norm(linear(), "foo"), KeyError, "foo"),
        ("old spectral_norm None", lambda: utils.spectral_norm(linear(bias=False), "bias"), ValueError,
         "parameter `bias` is None"),
        ("old spectral_norm no iterations", lambda: utils.spectral_norm(linear(), n_power_iterations=0), ValueError,
         "Expected n_power_iterations to be positive"),
        ("old remove absent", lambda: utils.remove_spectral_norm(linear()), ValueError,
         "spectral_norm of 'weight' not found"),
        ("orthogonal vector", lambda: parametrizations.orthogonal(linear(), "bias"), ValueError,
         "Expected a matrix or batch of matrices"),
        ("orthogonal map", lambda: parametrizations.orthogonal(linear(), orthogonal_map="qr"), ValueError,
         "orthogonal_map has to be one of"),
        ("orthogonal assignment", assign_orthogonal, NotImplementedError, "not possible to assign"),
        ("orthogonal shape", reshape_orthogonal, ValueError, "Expected a matrix or batch of matrices of shape"),
    ]


ERROR_CASES = [case[0] for case in _errors(mg)]


@pytest.mark.parametrize("library", ["minigrad", "torch"])
@pytest.mark.parametrize("case", ERROR_CASES)
def test_errors(case, library):
    """Each misuse raises the same error, type and words, in minigrad as in PyTorch (the PyTorch half skips without
    it)."""
    _, call, error, message = next(c for c in _errors(_lib(library)) if c[0] == case)
    with pytest.raises(error, match=message):
        call()


def test_unsafe_allows_a_new_shape():
    linear = mg.nn.utils.parametrize.register_parametrization(mg.nn.Linear(3, 4), "weight", _custom(mg).rows(),
                                                              unsafe=True)
    assert linear.weight.shape == (2, 3)
    assert linear.parametrizations.weight.unsafe
