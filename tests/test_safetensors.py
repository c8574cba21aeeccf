"""minigrad.safetensors: weights exchanged with PyTorch in the safetensors format. Round trips, files built by
hand from the format's description (no package needed), byte-identical output and PyTorch checkpoints when the
``safetensors`` package and PyTorch are installed, and the malformed and malicious files that must be refused
before anything is allocated."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
from _lazy_torch import torch

import minigrad as mg
from minigrad import nn
from minigrad import safetensors as st
from minigrad.errors import SerializationError

RNG = np.random.default_rng(41)


def _file(header: dict, buffer: bytes = b"", pad: bytes = b"") -> bytes:
    text = json.dumps(header).encode() + pad
    return struct.pack("<Q", len(text)) + text + buffer


def test_round_trip_keeps_names_dtypes_shapes_and_values(tmp_path):
    tensors = {"w": mg.tensor(RNG.standard_normal((3, 4)), dtype=mg.float32), "b": mg.tensor(RNG.standard_normal(4)),
               "steps": mg.tensor(7), "mask": mg.tensor([True, False]), "ids": mg.tensor([[1, -2]], dtype=mg.int32),
               "pixels": mg.tensor(np.array([0, 255], np.uint8)), "empty": mg.zeros(0, 3)}
    path = tmp_path / "m.safetensors"
    st.save_file(tensors, path, metadata={"format": "pt"})
    back = st.load_file(path)
    assert sorted(back) == sorted(tensors)  # the format keeps no order (the reference loaders differ in theirs)
    for k, t in tensors.items():
        assert back[k].dtype == t.dtype and back[k].shape == t.shape and np.array_equal(back[k].numpy(), t.numpy())
    assert st.load(st.save(tensors))["w"].dtype == mg.float32


def test_a_file_built_from_the_format_description_loads(tmp_path):
    """Little-endian data after the header, offsets relative to the buffer, entries in any order, a padded
    header; F16 and BF16 arrive as float32, exactly."""
    f32 = np.array([[1.5, -2.0]], "<f4").tobytes()
    f16 = np.array([0.5, 65504.0], "<f2").tobytes()
    bf16 = (np.array([1.5, -3.0e38], np.float32).view(np.uint32) >> 16).astype("<u2").tobytes()
    header = {"b": {"dtype": "BF16", "shape": [2], "data_offsets": [12, 16]},
              "a": {"dtype": "F32", "shape": [1, 2], "data_offsets": [0, 8]},
              "h": {"dtype": "F16", "shape": [2], "data_offsets": [8, 12]}, "__metadata__": {"k": "v"}}
    tensors = st.load(_file(header, f32 + f16 + bf16, pad=b"   "))
    assert sorted(tensors) == ["a", "b", "h"]
    assert tensors["a"].tolist() == [[1.5, -2.0]] and tensors["h"].tolist() == [0.5, 65504.0]
    assert tensors["b"].dtype == mg.float32 and tensors["b"].numpy()[0] == 1.5
    top_half = (np.array([-3.0e38], np.float32).view(np.uint32) >> 16) << 16  # what BF16 keeps of the float32
    assert tensors["b"].numpy()[1] == top_half.view(np.float32)[0]


@pytest.mark.parametrize("data, message", [
    (b"\x01\x00", "too short"),
    (struct.pack("<Q", 10**12) + b"{}", "the header claims"),
    (struct.pack("<Q", 4) + b"{}", "the header claims"),
    (_file({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 4), "outside the 4-byte buffer"),
    (_file({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"\0" * 8), "needs 12 bytes"),
    (_file({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
            "b": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4), "overlap or gap"),
    (_file({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 8), "cover 4 bytes of a 8"),
    (_file({"a": {"dtype": "C64", "shape": [1], "data_offsets": [0, 8]}}, b"\0" * 8), "dtype 'C64'"),
    (_file({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, b"\0" * 4), "invalid shape"),
    (_file({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4], "x": 1}}, b"\0" * 4), "exactly dtype"),
    (_file({"__metadata__": {"k": 1}}), "strings to strings"),
    (_file([1, 2]), "must be a JSON object"),
    (struct.pack("<Q", 8) + b'{"a":1,}', "not valid JSON"),
    (struct.pack("<Q", 16) + b'{"a":1, "a": 2} ', "duplicate keys"),
    (struct.pack("<Q", 3) + b"\xff\xfe\xfd", "not valid JSON"),
    (b"\x80\x02" + b"\0" * 20, "the header claims"),  # a pickle is not a safetensors file
])
def test_malformed_and_malicious_files_are_refused(data, message):
    with pytest.raises(SerializationError, match=message):
        st.load(data)


def test_save_refuses_what_the_format_cannot_hold():
    with pytest.raises(TypeError, match="names must be strings"):
        st.save({1: mg.zeros(1)})
    with pytest.raises(TypeError, match="'x' is a list"):
        st.save({"x": [1.0]})
    with pytest.raises(TypeError, match="metadata must map strings to strings"):
        st.save({"x": mg.zeros(1)}, metadata={"a": 1})


def test_bytes_equal_the_reference_writer():
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    state = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.Linear(3, 2)).state_dict()
    arrays = {k: v.numpy() for k, v in state.items()}
    assert st.save(state, metadata={"format": "pt"}) == safetensors_numpy.save(arrays, metadata={"format": "pt"})
    for k, v in st.load(safetensors_numpy.save(arrays)).items():
        assert np.array_equal(v.numpy(), arrays[k]) and v.numpy().dtype == arrays[k].dtype


def test_a_pytorch_checkpoint_loads_into_the_same_minigrad_model_and_back(tmp_path):
    safetensors_torch = pytest.importorskip("safetensors.torch")
    theirs = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                                 torch.nn.Flatten(), torch.nn.Linear(4 * 6 * 6, 3))
    theirs(torch.randn(5, 1, 8, 8))  # running statistics that are not the initial ones
    theirs.eval()
    path = tmp_path / "pt.safetensors"
    safetensors_torch.save_file(theirs.state_dict(), path)
    ours = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
    result = ours.load_state_dict(st.load_file(path))
    assert not result.missing_keys and not result.unexpected_keys
    ours.eval()
    x = RNG.standard_normal((2, 1, 8, 8)).astype(np.float32)
    np.testing.assert_allclose(ours(mg.tensor(x)).numpy(), theirs(torch.tensor(x)).detach().numpy(), rtol=1e-5,
                               atol=1e-6)
    st.save_file(ours.state_dict(), tmp_path / "mg.safetensors")
    back = safetensors_torch.load_file(tmp_path / "mg.safetensors")
    for k, v in theirs.state_dict().items():
        assert torch.equal(back[k], v), k


def test_load_file_places_tensors_on_the_asked_backend(tmp_path):
    st.save_file({"x": mg.ones(2)}, tmp_path / "x.safetensors")
    for name in mg.testing.available_backends():
        assert st.load_file(tmp_path / "x.safetensors", backend=name)["x"].backend == name
