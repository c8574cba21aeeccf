"""nn.Module API, containers, layers (against PyTorch with the same weights), nn.init."""

from __future__ import annotations

import math

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.testing import available_backends

BACKENDS = available_backends()


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.scale = nn.Parameter(mg.ones(4))
        self.register_buffer("running", mg.zeros(4))
        self.register_buffer("steps", mg.tensor(0))
        self.register_buffer("scratch", mg.zeros(2), persistent=False)
        self.plain = 5

    def forward(self, x):
        return self.fc(x) * self.scale + self.running


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.block = Block()
        self.layers = nn.ModuleList([nn.Linear(4, 4), nn.ReLU()])
        self.head = nn.Sequential(nn.Linear(4, 2), nn.Dropout(0.5))

    def forward(self, x):
        x = self.block(x)
        for layer in self.layers:
            x = layer(x)
        return self.head(x)


# -- Parameter --------------------------------------------------------------------------------------
def test_parameter_is_a_leaf_tensor_that_requires_grad():
    t = mg.randn(2, 3)
    p = nn.Parameter(t)
    assert isinstance(p, mg.Tensor) and p.requires_grad and p.is_leaf
    assert p.array is t.array  # shares memory
    assert repr(p).startswith("Parameter containing:\ntensor(")
    y = (p * 2).sum()  # ops accept it unchanged
    assert type(y) is mg.Tensor
    y.backward()
    np.testing.assert_array_equal(p.grad.numpy(), np.full((2, 3), 2, np.float32))
    assert not nn.Parameter(t, requires_grad=False).requires_grad
    with pytest.raises(mg.InplaceError):
        p.add_(1.0)  # a leaf that requires grad changes in place only under no_grad
    with mg.no_grad():
        p.add_(1.0)


# -- registration and traversal ---------------------------------------------------------------------
def test_named_parameters_buffers_children_modules():
    net = Net()
    assert [n for n, _ in net.named_parameters()] == [
        "block.scale", "block.fc.weight", "block.fc.bias", "layers.0.weight", "layers.0.bias",
        "head.0.weight", "head.0.bias"]
    assert [n for n, _ in net.named_buffers()] == ["block.running", "block.steps", "block.scratch"]
    assert [n for n, _ in net.named_children()] == ["block", "layers", "head"]
    assert len(list(net.modules())) == 9
    assert list(net.block.parameters(recurse=False)) == [net.block.scale]
    assert net.block.plain == 5 and "plain" not in net.block._parameters
    assert net.get_submodule("head.0") is net.head[0]


def test_shared_parameters_and_modules_appear_once():
    shared = nn.Linear(2, 2)
    seq = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(list(seq.parameters())) == 2
    assert len(list(seq.modules())) == 3
    # state_dict keeps every path (like PyTorch), pointing at the same values.
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_setattr_rules():
    m = nn.Linear(2, 3)
    with pytest.raises(TypeError, match="nn.Parameter"):
        m.weight = mg.randn(3, 2)  # a plain tensor may not replace a parameter
    m.weight = nn.Parameter(mg.randn(3, 2))
    m.bias = None
    assert m.bias is None and [n for n, _ in m.named_parameters()] == ["weight"]
    m.extra = nn.ReLU()
    assert "extra" in dict(m.named_children())
    del m.extra
    assert "extra" not in dict(m.named_children())

    class Early(nn.Module):
        def __init__(self) -> None:
            self.w = nn.Parameter(mg.zeros(1))

    with pytest.raises(AttributeError, match="super"):
        Early()
    with pytest.raises(KeyError):
        m.register_buffer("a.b", mg.zeros(1))


def test_train_eval_zero_grad():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net and not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    net(mg.randn(5, 3)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.numpy().any() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_dropout_module_respects_eval():
    drop = nn.Dropout(0.5)
    x = mg.ones(100)
    assert (drop(x).numpy() == 0).any()
    drop.eval()
    assert drop(x) is x


# -- moving and casting -----------------------------------------------------------------------------
def test_double_float_keep_parameter_identity_and_cast_floating_buffers_only():
    net = Net()
    params = list(net.parameters())
    net(mg.randn(2, 3)).sum().backward()
    assert net.double() is net
    assert [id(p) for p in net.parameters()] == [id(p) for p in params]
    assert all(p.dtype == mg.float64 and p.grad.dtype == mg.float64 for p in params)
    assert net.block.running.dtype == mg.float64
    assert net.block.steps.dtype == mg.int64  # integer buffers keep their dtype
    out = net(mg.randn(2, 3, dtype="float64"))
    assert out.dtype == mg.float64
    net.to("float32")
    assert all(p.dtype == mg.float32 for p in net.parameters())


def test_cast_invalidates_graphs_recorded_before():
    m = nn.Linear(2, 2)
    y = (m(mg.randn(3, 2, requires_grad=True)) ** 2).sum()  # saves the weight for x.grad
    m.double()
    with pytest.raises(mg.InplaceError):
        y.backward()


@pytest.mark.skipif("numba" not in BACKENDS, reason="numba backend not available")
def test_to_backend_moves_parameters_and_buffers_in_place():
    net = Net()
    params = list(net.parameters())
    net.to("numba")
    assert [id(p) for p in net.parameters()] == [id(p) for p in params]
    assert all(t.backend == "numba" for t in list(net.parameters()) + list(net.buffers()))
    net(mg.randn(2, 3, backend="numba")).sum().backward()
    net.to("numpy")
    assert all(t.backend == "numpy" for t in list(net.parameters()) + list(net.buffers()))


# -- state dict -------------------------------------------------------------------------------------
def test_state_dict_round_trip_values_are_detached():
    a, b = Net(), Net()
    sd = a.state_dict()
    assert list(sd) == ["block.scale", "block.running", "block.steps", "block.fc.weight", "block.fc.bias",
                        "layers.0.weight", "layers.0.bias", "head.0.weight", "head.0.bias"]
    assert all(not v.requires_grad and v.grad_fn is None for v in sd.values())
    assert not isinstance(sd["block.scale"], nn.Parameter)
    weight = b.block.fc.weight
    result = b.load_state_dict(sd)
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert b.block.fc.weight is weight  # loaded in place
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        np.testing.assert_array_equal(x.numpy(), y.numpy(), err_msg=name)
    # numpy arrays are accepted too
    b.load_state_dict({k: v.numpy() * 0 for k, v in sd.items()})
    assert not b.block.fc.weight.numpy().any()


def test_load_state_dict_errors():
    net = Net()
    sd = dict(net.state_dict())
    del sd["head.0.bias"]
    sd["head.0.extra"] = mg.zeros(1)
    sd["block.fc.weight"] = mg.zeros(3, 3)
    before = net.block.scale.numpy().copy()
    sd["block.scale"] = mg.full((4,), 7.0)
    with pytest.raises(nn.StateDictError) as info:
        net.load_state_dict(sd)
    message = str(info.value)
    assert "missing key(s): 'head.0.bias'" in message
    assert "unexpected key(s): 'head.0.extra'" in message
    assert "size mismatch for 'block.fc.weight'" in message and "(3, 3)" in message and "(4, 3)" in message
    np.testing.assert_array_equal(net.block.scale.numpy(), before)  # nothing changed
    with pytest.raises(nn.StateDictError, match="size mismatch"):
        net.load_state_dict(sd, strict=False)  # wrong shapes are always errors
    sd["block.fc.weight"] = mg.zeros(4, 3)
    result = net.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["head.0.bias"] and result.unexpected_keys == ["head.0.extra"]
    np.testing.assert_array_equal(net.block.scale.numpy(), np.full(4, 7.0, np.float32))
    with pytest.raises(nn.StateDictError, match="float32 values into a int64"):
        net.load_state_dict({**net.state_dict(), "block.steps": mg.tensor(1.5)})


# -- repr -------------------------------------------------------------------------------------------
def test_repr_like_pytorch():
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(16, 3), nn.LayerNorm(3), nn.GELU(approximate="tanh"))
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Conv2d(1, 4, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=False)\n"
        "  (1): ReLU()\n"
        "  (2): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)\n"
        "  (3): Flatten(start_dim=1, end_dim=-1)\n"
        "  (4): Linear(in_features=16, out_features=3, bias=True)\n"
        "  (5): LayerNorm((3,), eps=1e-05, elementwise_affine=True, bias=True)\n"
        "  (6): GELU(approximate='tanh')\n"
        ")")
    assert "(block): Block(\n    (fc): Linear" in repr(Net())


def test_load_state_dict_result_prints_as_pytorchs():
    net = nn.Linear(2, 2)
    assert str(net.load_state_dict(net.state_dict())) == "<All keys matched successfully>"
    result = net.load_state_dict({"weight": net.weight.detach(), "extra": mg.zeros(1)}, strict=False)
    assert repr(result) == "_IncompatibleKeys(missing_keys=['bias'], unexpected_keys=['extra'])"
    assert result.missing_keys == ["bias"] and result == (["bias"], ["extra"])


def test_batchnorm_checkpoint_without_num_batches_tracked_loads_as_in_pytorch():
    """PyTorch fills a missing count from the module where the checkpoint has no version-2 metadata (a plain dict, or
    one saved before the count existed) and refuses it where the metadata says version 2."""
    net = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    net[1].num_batches_tracked.fill_(5)
    old = {k: v for k, v in net.state_dict().items() if k != "1.num_batches_tracked"}
    assert str(net.load_state_dict(old)) == "<All keys matched successfully>"
    assert int(net[1].num_batches_tracked) == 5 and "1.num_batches_tracked" not in old

    class Versioned(dict):
        _metadata = {"1": {"version": 2}}

    with pytest.raises(nn.StateDictError, match="missing key.*'1.num_batches_tracked'"):
        net.load_state_dict(Versioned(old))


NORM_LAYERS = [
    ("BatchNorm1d", (3,), {}), ("BatchNorm2d", (3,), dict(affine=False, bias=False)),
    ("BatchNorm2d", (3,), dict(bias=False)), ("BatchNorm3d", (4,), dict(momentum=None, track_running_stats=False)),
    ("SyncBatchNorm", (3,), {}), ("LayerNorm", (3,), {}), ("LayerNorm", ((2, 3),), dict(bias=False)),
    ("LayerNorm", (3,), dict(elementwise_affine=False)), ("GroupNorm", (1, 4), {}),
    ("GroupNorm", (2, 4), dict(affine=False)), ("InstanceNorm1d", (3,), dict(affine=True)),
]


@pytest.mark.parametrize("name, args, kwargs", NORM_LAYERS)
def test_normalisation_layers_repr_like_pytorch(name, args, kwargs):
    torch = pytest.importorskip("torch")
    assert repr(getattr(nn, name)(*args, **kwargs)) == repr(getattr(torch.nn, name)(*args, **kwargs))


def test_batchnorm_repr_shows_fused_only_when_off():
    assert "fused" not in repr(nn.BatchNorm1d(3)) and repr(nn.BatchNorm1d(3, fused=False)).endswith(", fused=False)")


# -- containers -------------------------------------------------------------------------------------
def test_sequential_and_modulelist():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert len(seq) == 3 and isinstance(seq[-1], nn.Linear)
    assert isinstance(seq[:2], nn.Sequential) and len(seq[:2]) == 2
    seq.append(nn.Sigmoid())
    assert [type(m).__name__ for m in seq] == ["Linear", "ReLU", "Linear", "Sigmoid"]
    seq[1] = nn.Tanh()
    assert isinstance(seq[1], nn.Tanh) and list(dict(seq.named_children())) == ["0", "1", "2", "3"]
    from collections import OrderedDict

    named = nn.Sequential(OrderedDict(fc=nn.Linear(2, 2), act=nn.ReLU()))
    assert [n for n, _ in named.named_parameters()] == ["fc.weight", "fc.bias"]
    ml = nn.ModuleList([nn.Linear(1, 1)])
    ml.append(nn.ReLU())
    ml.insert(0, nn.Tanh())
    assert [type(m).__name__ for m in ml] == ["Tanh", "Linear", "ReLU"]
    assert [n for n, _ in ml.named_parameters()] == ["1.weight", "1.bias"]
    del ml[0]
    assert [n for n, _ in ml.named_parameters()] == ["0.weight", "0.bias"]
    with pytest.raises(IndexError):
        ml[5]


# -- layers against PyTorch with the same weights ---------------------------------------------------
@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def _copy_weights(ours: nn.Module, theirs) -> None:
    theirs_sd = theirs.state_dict()
    ours.load_state_dict({k: theirs_sd[k].detach().numpy() for k in ours.state_dict()})


def _layer_pairs(torch):
    tnn = torch.nn
    return [
        (nn.Linear(5, 3), tnn.Linear(5, 3), (4, 5)),
        (nn.Linear(5, 3, bias=False), tnn.Linear(5, 3, bias=False), (2, 4, 5)),
        (nn.Conv2d(4, 6, 3, stride=2, padding=1, dilation=1, groups=2),
         tnn.Conv2d(4, 6, 3, stride=2, padding=1, dilation=1, groups=2), (2, 4, 7, 6)),
        (nn.Conv2d(2, 3, (2, 3), padding="same", dilation=(2, 1), bias=False),
         tnn.Conv2d(2, 3, (2, 3), padding="same", dilation=(2, 1), bias=False), (1, 2, 6, 5)),
        (nn.MaxPool2d(3, 2, 1), tnn.MaxPool2d(3, 2, 1), (2, 3, 7, 7)),
        (nn.AvgPool2d(2), tnn.AvgPool2d(2), (2, 3, 6, 6)),
        (nn.Flatten(), tnn.Flatten(), (2, 3, 4)),
        (nn.Identity(), tnn.Identity(), (3, 2)),
        (nn.LayerNorm((3, 4)), tnn.LayerNorm((3, 4)), (2, 3, 4)),
        (nn.ReLU(), tnn.ReLU(), (4, 5)),
        (nn.LeakyReLU(0.2), tnn.LeakyReLU(0.2), (4, 5)),
        (nn.Sigmoid(), tnn.Sigmoid(), (4, 5)),
        (nn.Tanh(), tnn.Tanh(), (4, 5)),
        (nn.GELU(), tnn.GELU(), (4, 5)),
        (nn.GELU("tanh"), tnn.GELU("tanh"), (4, 5)),
        (nn.Softplus(2.0, 1.0), tnn.Softplus(2.0, 1.0), (4, 5)),
        (nn.SiLU(), tnn.SiLU(), (4, 5)),
        (nn.ELU(0.5), tnn.ELU(0.5), (4, 5)),
        (nn.Hardtanh(-0.5, 2.0), tnn.Hardtanh(-0.5, 2.0), (4, 5)),
        (nn.Softmax(1), tnn.Softmax(1), (4, 5)),
        (nn.LogSoftmax(0), tnn.LogSoftmax(0), (4, 5)),
    ]


@pytest.mark.parametrize("backend", BACKENDS)
def test_layers_match_torch(torch, backend):
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    for ours, theirs, shape in _layer_pairs(torch):
        ours.double().to(backend)
        theirs.double()
        _copy_weights(ours, theirs)
        if isinstance(ours, nn.LayerNorm):  # non-trivial affine parameters
            with torch.no_grad():
                theirs.weight.normal_()
                theirs.bias.normal_()
            _copy_weights(ours, theirs)
        a = rng.standard_normal(shape)
        x = mg.tensor(a, requires_grad=True, backend=backend)
        tx = torch.tensor(a, requires_grad=True)
        y, ty = ours(x), theirs(tx)
        name = type(ours).__name__
        np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-12, err_msg=name)
        upstream = rng.standard_normal(tuple(ty.shape))
        y.backward(mg.tensor(upstream, backend=backend))
        ty.backward(torch.tensor(upstream))
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)
        theirs_params = dict(theirs.named_parameters())
        for pname, p in ours.named_parameters():
            np.testing.assert_allclose(p.grad.numpy(), theirs_params[pname].grad.numpy(), rtol=1e-10,
                                       atol=1e-12, err_msg=f"{name}.{pname}")


@pytest.mark.parametrize("backend", BACKENDS)
def test_small_cnn_float32_matches_torch(torch, backend):
    tnn = torch.nn

    def build(m):
        return m.Sequential(m.Conv2d(1, 4, 3, padding=1), m.ReLU(), m.MaxPool2d(2), m.Conv2d(4, 8, 3),
                            m.GELU(), m.AvgPool2d(2), m.Flatten(), m.Linear(8, 10))

    ours, theirs = build(nn).to(backend), build(tnn)
    _copy_weights(ours, theirs)
    rng = np.random.default_rng(1)
    a = rng.standard_normal((6, 1, 8, 8)).astype(np.float32)
    target = rng.integers(0, 10, 6)
    loss = nn.functional.cross_entropy(ours(mg.tensor(a, backend=backend)), mg.tensor(target, backend=backend))
    tloss = tnn.functional.cross_entropy(theirs(torch.tensor(a)), torch.tensor(target))
    assert loss.dtype == mg.float32
    assert loss.item() == pytest.approx(tloss.item(), rel=1e-5)
    loss.backward()
    tloss.backward()
    tparams = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        assert p.grad.dtype == mg.float32
        np.testing.assert_allclose(p.grad.numpy(), tparams[name].grad.numpy(), rtol=1e-4, atol=1e-6,
                                   err_msg=name)


@pytest.mark.parametrize("backend", BACKENDS)
def test_layers_double_backward(backend):
    """Every layer with parameters: gradgradcheck through the module (float64)."""
    rng = np.random.default_rng(2)
    cases = [(nn.Linear(3, 2), (2, 3)), (nn.Conv2d(2, 2, 2, stride=1, padding=1, groups=2), (1, 2, 3, 3)),
             (nn.LayerNorm(3), (2, 3))]
    for layer, shape in cases:
        layer.double().to(backend)
        params = list(layer.parameters())
        x = mg.tensor(rng.standard_normal(shape), requires_grad=True, backend=backend)

        # gradcheck perturbs the parameters themselves, which the layer reads.
        def fn(x, *ps, layer=layer):
            return layer(x).tanh()

        mg.gradcheck(fn, (x, *params))
        mg.gradgradcheck(fn, (x, *params))


# -- default initialisation and nn.init -------------------------------------------------------------
def test_default_init_bounds_like_pytorch():
    mg.manual_seed(0)
    lin = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    w, b = lin.weight.numpy(), lin.bias.numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.98 * bound
    assert np.abs(b).max() <= bound and abs(w.std() - bound / math.sqrt(3)) < 0.01 * bound
    conv = nn.Conv2d(8, 16, 3)
    bound = 1 / math.sqrt(8 * 9)
    assert np.abs(conv.weight.numpy()).max() <= bound and np.abs(conv.bias.numpy()).max() <= bound
    ln = nn.LayerNorm(5)
    assert (ln.weight.numpy() == 1).all() and (ln.bias.numpy() == 0).all()


def test_init_functions():
    init = nn.init
    w = mg.empty(200, 300)
    mg.manual_seed(1)
    init.kaiming_uniform_(w, nonlinearity="relu")
    first = w.numpy().copy()
    bound = math.sqrt(2) * math.sqrt(3 / 300)
    assert np.abs(first).max() <= bound and abs(first.std() - bound / math.sqrt(3)) < 0.02 * bound
    mg.manual_seed(1)
    version = w._version
    init.kaiming_uniform_(w, nonlinearity="relu")
    np.testing.assert_array_equal(w.numpy(), first)  # reproducible
    assert w._version > version  # an in-place change that version counters see
    init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
    assert abs(w.numpy().std() - math.sqrt(2 / 200)) < 0.03 * math.sqrt(2 / 200)
    init.xavier_uniform_(w, gain=2.0)
    bound = 2.0 * math.sqrt(6 / 500)
    assert np.abs(w.numpy()).max() <= bound and np.abs(w.numpy()).max() > 0.98 * bound
    init.xavier_normal_(w)
    assert abs(w.numpy().std() - math.sqrt(2 / 500)) < 0.03 * math.sqrt(2 / 500)
    init.normal_(w, 3.0, 0.5)
    assert abs(w.numpy().mean() - 3.0) < 0.01 and abs(w.numpy().std() - 0.5) < 0.01
    init.uniform_(w, -2.0, -1.0)
    assert w.numpy().min() >= -2.0 and w.numpy().max() < -1.0
    init.constant_(w, 0.25)
    assert (w.numpy() == 0.25).all()
    init.zeros_(w)
    assert not w.numpy().any()
    init.ones_(w)
    assert (w.numpy() == 1).all()
    p = nn.Parameter(mg.empty(3, 4))
    init.xavier_uniform_(p)  # parameters that require grad: fine, under no_grad
    assert p.requires_grad and p.grad_fn is None
    with pytest.raises(ValueError):
        init.xavier_uniform_(mg.empty(3))
    assert w.dtype == mg.float32 and init.normal_(mg.empty(2, dtype="float64")).dtype == mg.float64


def test_calculate_gain_matches_torch(torch):
    for name, param in [("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None),
                        ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2), ("selu", None)]:
        assert nn.init.calculate_gain(name, param) == pytest.approx(torch.nn.init.calculate_gain(name, param))


@pytest.mark.parametrize("backend", BACKENDS)
def test_manual_seed_makes_model_init_and_dropout_reproducible(backend):
    def run():
        mg.manual_seed(42)
        model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 2)).to(backend)
        return model(mg.ones(3, 4, backend=backend)).numpy()

    np.testing.assert_array_equal(run(), run())


def test_deepcopy_gives_independent_usable_module():
    import copy

    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    model(mg.randn(4, 2)).sum().backward()
    clone = copy.deepcopy(model)
    assert isinstance(clone[0].weight, nn.Parameter) and clone[0].weight is not model[0].weight
    np.testing.assert_array_equal(clone[0].weight.numpy(), model[0].weight.numpy())
    np.testing.assert_array_equal(clone[0].weight.grad.numpy(), model[0].weight.grad.numpy())
    x = mg.randn(4, 2)
    np.testing.assert_array_equal(clone(x).numpy(), model(x).numpy())  # same backend object: ops mix
    with mg.no_grad():
        clone[0].weight.zero_()
    assert model[0].weight.numpy().any()
