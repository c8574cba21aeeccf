"""minigrad.save / minigrad.load: exact round trips, and crafted files refused without executing anything."""

from __future__ import annotations

import io
import json
import math
import os
import pickle
import zipfile
from collections import OrderedDict

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigrad
from minigrad.errors import MinigradError, SerializationError
from minigrad.serialization import FORMAT, VERSION


def _numba_available() -> bool:
    return minigrad.backends.available().get("numba") is True


def _same(a, b) -> None:
    """Equal in type, structure, dtype, shape and every bit."""
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, dict):
        assert list(a.keys()) == list(b.keys())
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    elif isinstance(a, minigrad.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape and a.requires_grad == b.requires_grad
        assert a.numpy().tobytes() == b.numpy().tobytes()
    elif isinstance(a, (np.ndarray, np.generic)):
        assert a.dtype == b.dtype and np.shape(a) == np.shape(b)
        assert np.asarray(a).tobytes() == np.asarray(b).tobytes()
    elif isinstance(a, float):
        assert a.hex() == b.hex() or (math.isnan(a) and math.isnan(b))
    else:
        assert a == b


def _state():
    rng = np.random.default_rng(0)
    return OrderedDict([
        ("fc.weight", minigrad.tensor(rng.standard_normal((4, 3)).astype(np.float32), requires_grad=True)),
        ("fc.bias", minigrad.tensor(rng.standard_normal(4), dtype="float64")),
        ("bn.num_batches_tracked", minigrad.tensor(np.int64(7))),
        ("mask", minigrad.tensor(np.array([True, False]))),
        ("small", minigrad.tensor(np.array([1, 2], dtype=np.int32))),
        ("pixels", minigrad.tensor(np.arange(6, dtype=np.uint8).reshape(2, 3))),
        ("empty", minigrad.zeros(0, 5)),
        ("nd", {"f16": np.array([1.5, -2.0], dtype=np.float16), "u64": np.array([2**64 - 1], dtype=np.uint64),
                "fortran": np.asfortranarray(rng.standard_normal((3, 2))), "scalar": np.float32(0.1),
                "int_scalar": np.int16(-3), "f64_scalar": np.float64(0.25), "bool_scalar": np.bool_(True),
                "view": np.arange(10.0)[::3]}),
        ("optim", {"state": {0: {"step": 3, "momentum_buffer": None}, 1: {}},
                   "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "params": [0, 1], "nesterov": False}]}),
        ("numbers", [0.1, -0.0, float("inf"), float("-inf"), float("nan"), 5e-324, 2**100, -7, True, "héllo"]),
    ])


def test_round_trip_is_exact(tmp_path):
    state = _state()
    minigrad.save(state, tmp_path / "model.npz")
    _same(state, minigrad.load(tmp_path / "model.npz"))
    assert os.listdir(tmp_path) == ["model.npz"]  # the temporary file was renamed into place


_ARRAY_DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float16",
                 "float32", "float64"]
_arrays = st.sampled_from(_ARRAY_DTYPES).flatmap(
    lambda dt: hnp.arrays(np.dtype(dt), hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)))
_tensors = st.sampled_from(["bool", "int32", "int64", "uint8", "float32", "float64"]).flatmap(
    lambda dt: hnp.arrays(np.dtype(dt), hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))
).map(minigrad.tensor)
_leaves = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8) | _arrays | _tensors
           | _arrays.map(lambda a: a[()] if a.ndim == 0 else a))
_trees = st.recursive(_leaves, lambda inner: (
    st.lists(inner, max_size=3) | st.lists(inner, max_size=3).map(tuple)
    | st.dictionaries(st.text(max_size=5) | st.integers(), inner, max_size=3)), max_leaves=12)


@settings(max_examples=60, deadline=None)
@given(_trees)
def test_round_trip_property(tree):
    buffer = io.BytesIO()
    minigrad.save(tree, buffer)
    buffer.seek(0)
    _same(tree, minigrad.load(buffer))


def test_round_trip_through_file_objects_and_plain_dicts():
    state = {"w": minigrad.randn(2, 2), "nested": {"a": [1, 2.5, (None, "x")]}}
    buffer = io.BytesIO()
    minigrad.save(state, buffer)
    buffer.seek(0)
    _same(state, minigrad.load(buffer))


def test_loaded_arrays_are_writable_and_independent(tmp_path):
    w = minigrad.randn(3)
    minigrad.save({"w": w}, tmp_path / "a.npz")
    loaded = minigrad.load(tmp_path / "a.npz")["w"]
    with minigrad.no_grad():
        loaded.add_(1.0)
    assert not np.array_equal(loaded.numpy(), w.numpy())


def test_file_is_a_standard_npz(tmp_path):
    minigrad.save({"w": minigrad.ones(2, 3)}, tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz", allow_pickle=False) as npz:
        manifest = json.loads(npz["__manifest__"].tobytes())
        assert manifest["format"] == FORMAT and manifest["version"] == VERSION
        assert np.array_equal(npz[manifest["root"]["values"][0]["a"]], np.ones((2, 3), np.float32))


@pytest.mark.skipif(not _numba_available(), reason="numba backend not available")
def test_load_onto_another_backend(tmp_path):
    state = {"w": minigrad.randn(3, 4), "b": minigrad.tensor([1, 2, 3])}
    minigrad.save(state, tmp_path / "m.npz")
    loaded = minigrad.load(tmp_path / "m.npz", backend="numba")
    assert loaded["w"].backend == "numba" and loaded["b"].backend == "numba"
    assert loaded["w"].numpy().tobytes() == state["w"].numpy().tobytes()
    minigrad.save(loaded, tmp_path / "n.npz")
    _same(state, minigrad.load(tmp_path / "n.npz", backend="numpy"))


def test_load_backend_follows_the_current_backend(tmp_path):
    minigrad.save({"w": minigrad.ones(1)}, tmp_path / "m.npz")
    with minigrad.backend("numpy"):
        assert minigrad.load(tmp_path / "m.npz")["w"].backend == "numpy"
    with pytest.raises(minigrad.UnknownBackendError):
        minigrad.load(tmp_path / "m.npz", backend="nope")


@pytest.mark.parametrize("bad", [
    {"f": lambda: 0},
    {"s": {1, 2}},
    {"o": np.array([object()], dtype=object)},
    {"u": np.array(["text"])},
    {"c": np.array([1 + 2j])},
    {(1, 2): 3},
    {True: 1},
    [b"bytes"],
])
def test_save_refuses_what_it_cannot_store_without_pickle(bad, tmp_path):
    with pytest.raises(SerializationError):
        minigrad.save(bad, tmp_path / "x.npz")
    assert os.listdir(tmp_path) == []  # nothing half-written left behind


def test_save_refuses_cycles(tmp_path):
    state: dict = {}
    state["self"] = state
    with pytest.raises(SerializationError, match="contains itself"):
        minigrad.save(state, tmp_path / "x.npz")


def test_serialization_error_is_a_minigrad_value_error():
    assert issubclass(SerializationError, MinigradError) and issubclass(SerializationError, ValueError)


# -- crafted files ---------------------------------------------------------------------------------
def _npy(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    out = io.BytesIO()
    np.lib.format.write_array(out, array, allow_pickle=allow_pickle)
    return out.getvalue()


def _manifest(root: dict, **extra) -> bytes:
    doc = {"format": FORMAT, "version": VERSION, "root": root, **extra}
    return _npy(np.frombuffer(json.dumps(doc).encode(), dtype=np.uint8))


def _tensor_node(name="a0", dtype="float32", shape=(2,)):
    return {"t": "dict", "keys": ["w"], "values": [{"t": "tensor", "a": name, "dtype": dtype, "shape": list(shape),
                                                    "requires_grad": False}]}


def _zip(path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)


class _Boom:
    """Unpickling this writes a marker file: proof that code in the file ran."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _refused(path, match: str | None = None):
    with pytest.raises(SerializationError, match=match):
        minigrad.load(path)


def test_refuses_a_pickle_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    (tmp_path / "evil.npz").write_bytes(pickle.dumps({"w": _Boom(str(marker))}))
    _refused(tmp_path / "evil.npz", "pickle")
    assert not marker.exists()


def test_refuses_pickled_object_arrays_inside_the_archive(tmp_path):
    marker = tmp_path / "pwned"
    payload = np.array([_Boom(str(marker))], dtype=object)
    _zip(tmp_path / "evil.npz", {"a0.npy": _npy(payload, allow_pickle=True), "__manifest__.npy":
                                 _manifest(_tensor_node(shape=(1,)))})
    _refused(tmp_path / "evil.npz", "dtype")
    # The same payload declared honestly as an object array is refused by the manifest check.
    _zip(tmp_path / "evil2.npz", {"a0.npy": _npy(payload, allow_pickle=True), "__manifest__.npy":
                                  _manifest({"t": "ndarray", "a": "a0", "dtype": "object", "shape": [1]})})
    _refused(tmp_path / "evil2.npz", "unsupported dtype")
    assert not marker.exists()


def test_refuses_a_npy_file_and_npz_without_manifest(tmp_path):
    np.save(tmp_path / "plain.npy", np.ones(3))
    _refused(tmp_path / "plain.npy", "not a .npz")
    np.savez(tmp_path / "plain.npz", w=np.ones(3))
    _refused(tmp_path / "plain.npz")


@pytest.mark.parametrize("cut", [0.0, 0.3, 0.5, 0.9, -1])
def test_refuses_truncated_archives(tmp_path, cut):
    minigrad.save(_state(), tmp_path / "m.npz")
    data = (tmp_path / "m.npz").read_bytes()
    (tmp_path / "t.npz").write_bytes(data[: len(data) - 1] if cut == -1 else data[: int(len(data) * cut)])
    _refused(tmp_path / "t.npz")


def test_refuses_corrupted_bytes(tmp_path):
    minigrad.save({"w": minigrad.randn(100)}, tmp_path / "m.npz")
    data = bytearray((tmp_path / "m.npz").read_bytes())
    with zipfile.ZipFile(tmp_path / "m.npz") as z:
        info = z.getinfo("a0.npy")
    data[info.header_offset + 30 + len(info.filename) + 200] ^= 0xFF  # inside a0's array data
    (tmp_path / "c.npz").write_bytes(bytes(data))
    _refused(tmp_path / "c.npz", "CRC")


@pytest.mark.parametrize("array,node,match", [
    (np.ones(2, np.float64), _tensor_node(), "manifest says float32"),  # wrong dtype
    (np.ones(3, np.float32), _tensor_node(), "shape"),  # wrong shape
    (np.ones(2, np.complex64), _tensor_node(dtype="complex64"), "unsupported dtype"),
    (np.array(["ab", "cd"]), _tensor_node(dtype="str"), "unsupported dtype"),
    (np.ones(2, np.float16), _tensor_node(dtype="float16"), "unsupported dtype"),  # arrays only, not tensors
    (np.ones(2, np.float32), _tensor_node(name="a7"), "missing array"),
    (np.ones(2, np.float32), _tensor_node(shape=(-2,)), "bad shape"),
    (np.ones(2, np.float32), {"t": "eval", "v": "__import__('os')"}, "unknown manifest entry"),
    (np.ones(2, np.float32), {"t": "list", "items": [{"t": "tensor", "a": "a0", "dtype": "float32",
                                                      "shape": [2]}] * 2}, "referenced twice"),
    (np.ones(2, np.float32), {"t": "dict", "keys": ["a", "a"], "values": [{"t": "none"}] * 2}, "duplicate"),
    (np.ones(2, np.float32), {"t": "int", "v": "1"}, "int entry"),
    (np.ones(2, np.float32), {"t": "float", "v": "1e5000x"}, "bad float"),
    (np.ones(2, np.float32), {"t": "none"}, "not described"),  # an array nobody refers to
])
def test_refuses_manifests_that_do_not_match_the_arrays(tmp_path, array, node, match):
    _zip(tmp_path / "x.npz", {"a0.npy": _npy(array), "__manifest__.npy": _manifest(node)})
    _refused(tmp_path / "x.npz", match)


def test_refuses_bad_manifests(tmp_path):
    cases = {
        "json": _npy(np.frombuffer(b"{not json", dtype=np.uint8)),
        "format": _npy(np.frombuffer(json.dumps({"format": "other", "root": {"t": "none"}}).encode(), np.uint8)),
        "version": _manifest({"t": "none"}, version=99),
        "nan": _npy(np.frombuffer(b'{"format": "minigrad.state", "version": 1, "root": NaN}', np.uint8)),
        "deep": _npy(np.frombuffer(
            (f'{{"format": "{FORMAT}", "version": 1, "root": ' + '{"t": "list", "items": [' * 50_000
             + "]}" * 50_000 + "}").encode(), np.uint8)),
        "dtype": _npy(np.frombuffer(b"{}", np.uint8).astype(np.float32)),
    }
    for name, manifest in cases.items():
        _zip(tmp_path / f"{name}.npz", {"__manifest__.npy": manifest})
        _refused(tmp_path / f"{name}.npz")
    with zipfile.ZipFile(tmp_path / "dupe.npz", "w") as z:
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            z.writestr("__manifest__.npy", _manifest({"t": "none"}))
            z.writestr("__manifest__.npy", _manifest({"t": "none"}))
    _refused(tmp_path / "dupe.npz", "duplicate")
    _zip(tmp_path / "names.npz", {"../evil.npy": _npy(np.ones(1)), "__manifest__.npy": _manifest({"t": "none"})})
    _refused(tmp_path / "names.npz", "unexpected archive member")


def test_refuses_absurd_sizes_before_allocating(tmp_path):
    # A header that claims 10**12 float32 elements backed by 8 bytes of data.
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (10**12,)})
    member = header.getvalue() + b"\x00" * 8
    _zip(tmp_path / "x.npz", {"a0.npy": member,
                              "__manifest__.npy": _manifest(_tensor_node(shape=(10**12,)))})
    _refused(tmp_path / "x.npz", "promises")
    minigrad.save({"w": minigrad.zeros(1000)}, tmp_path / "big.npz")
    with pytest.raises(SerializationError, match="max_bytes"):
        minigrad.load(tmp_path / "big.npz", max_bytes=1000)
    assert minigrad.load(tmp_path / "big.npz", max_bytes=10_000)["w"].shape == (1000,)


def test_missing_file_is_a_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        minigrad.load(tmp_path / "nope.npz")


def test_module_state_dict_round_trip_and_shape_mismatch(tmp_path):
    nn = minigrad.nn
    if not hasattr(nn, "Linear"):
        pytest.skip("minigrad.nn.Linear not available yet")
    minigrad.manual_seed(0)
    model = nn.Linear(4, 3)
    minigrad.save(model.state_dict(), tmp_path / "m.npz")
    other = nn.Linear(4, 3)
    other.load_state_dict(minigrad.load(tmp_path / "m.npz"))
    for (name, p), (_, q) in zip(model.state_dict().items(), other.state_dict().items()):
        assert p.numpy().tobytes() == q.numpy().tobytes(), name
    with pytest.raises(MinigradError, match="weight"):
        nn.Linear(5, 3).load_state_dict(minigrad.load(tmp_path / "m.npz"))


def test_batchnorm_model_round_trip_and_dtype_mismatch(tmp_path):
    nn = minigrad.nn
    if not hasattr(nn, "BatchNorm1d"):
        pytest.skip("minigrad.nn.BatchNorm1d not available yet")
    minigrad.manual_seed(1)

    def build():
        return nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))

    model = build()
    x = minigrad.randn(16, 6)
    model(x)  # one training step moves the running statistics and num_batches_tracked
    model.eval()
    minigrad.save(model.state_dict(), tmp_path / "bn.npz")
    state = minigrad.load(tmp_path / "bn.npz")
    assert state["1.num_batches_tracked"].dtype == np.int64 and state["1.num_batches_tracked"].item() == 1
    other = build()
    other.load_state_dict(state)
    other.eval()
    assert model(x).numpy().tobytes() == other(x).numpy().tobytes()
    # A float where the model keeps an integer counter is refused by load_state_dict, not silently cast.
    state["1.num_batches_tracked"] = minigrad.tensor(np.float32(1.5))
    minigrad.save(state, tmp_path / "bad.npz")
    with pytest.raises(MinigradError, match="num_batches_tracked"):
        build().load_state_dict(minigrad.load(tmp_path / "bad.npz"))


def test_refuses_declared_sizes_the_archive_cannot_hold(tmp_path):
    minigrad.save({"w": minigrad.zeros(4)}, tmp_path / "m.npz")
    data = bytearray((tmp_path / "m.npz").read_bytes())
    entry = data.index(b"PK\x01\x02")  # the first central-directory entry (a0.npy)
    data[entry + 24:entry + 28] = (0xFFFFFFF0).to_bytes(4, "little")  # its uncompressed size: ~4 GiB
    (tmp_path / "x.npz").write_bytes(bytes(data))
    _refused(tmp_path / "x.npz", "cannot hold")
