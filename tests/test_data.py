"""minigrad.data: DataLoader, TensorDataset, digits, IDX parsing and MNIST (offline, loopback downloads)."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import minigrad
from minigrad.data import DataLoader, TensorDataset, datasets
from minigrad.errors import DatasetError, DatasetNotFoundError, MinigradError

REPO = Path(__file__).resolve().parents[1]


def _numba_available() -> bool:
    return minigrad.backends.available().get("numba") is True


def _batches(loader):
    return [tuple(t.numpy().copy() for t in batch) for batch in loader]


# -- DataLoader --------------------------------------------------------------------------------------
def test_batches_in_order_with_a_short_last_batch():
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    y = np.arange(10)
    loader = DataLoader((x, y), batch_size=4)
    batches = list(loader)
    assert len(loader) == len(batches) == 3
    assert [b[0].shape for b in batches] == [(4, 2), (4, 2), (2, 2)]
    assert all(isinstance(t, minigrad.Tensor) for b in batches for t in b)
    assert batches[0][0].dtype == np.float32 and batches[0][1].dtype == np.int64
    np.testing.assert_array_equal(np.concatenate([b[1].numpy() for b in batches]), y)


def test_drop_last():
    loader = DataLoader((np.zeros((10, 3)), np.zeros(10)), batch_size=4, drop_last=True)
    assert len(loader) == 2 and [b[0].shape[0] for b in loader] == [4, 4]
    assert len(DataLoader((np.zeros((3, 1)),), batch_size=4, drop_last=True)) == 0


def test_shuffle_visits_every_sample_once_and_keeps_pairs_together():
    x = np.arange(50, dtype=np.float32)[:, None] * 10
    y = np.arange(50)
    batches = _batches(DataLoader((x, y), batch_size=8, shuffle=True, seed=3))
    xs = np.concatenate([b[0][:, 0] for b in batches])
    ys = np.concatenate([b[1] for b in batches])
    assert sorted(ys.tolist()) == list(range(50)) and not np.array_equal(ys, y)
    np.testing.assert_array_equal(xs, ys * 10)


def test_seed_makes_shuffling_reproducible_and_epochs_differ():
    data = (np.arange(40, dtype=np.float32), np.arange(40))
    a = DataLoader(data, batch_size=5, shuffle=True, seed=7)
    b = DataLoader(data, batch_size=5, shuffle=True, seed=7)
    epoch_a1, epoch_a2 = _batches(a), _batches(a)
    epoch_b1, epoch_b2 = _batches(b), _batches(b)
    for u, v in zip(epoch_a1 + epoch_a2, epoch_b1 + epoch_b2):
        np.testing.assert_array_equal(u[1], v[1])
    assert not np.array_equal(np.concatenate([u[1] for u in epoch_a1]), np.concatenate([u[1] for u in epoch_a2]))
    other = _batches(DataLoader(data, batch_size=5, shuffle=True, seed=8))
    assert not np.array_equal(np.concatenate([u[1] for u in other]), np.concatenate([u[1] for u in epoch_a1]))


def test_manual_seed_makes_unseeded_shuffling_reproducible():
    data = (np.arange(30, dtype=np.float32), np.arange(30))
    runs = []
    for _ in range(2):
        minigrad.manual_seed(123)
        loader = DataLoader(data, batch_size=4, shuffle=True)
        runs.append(_batches(loader) + _batches(loader))
    for u, v in zip(*runs):
        np.testing.assert_array_equal(u[1], v[1])


def test_tensors_and_tensor_dataset_are_accepted():
    x = minigrad.randn(6, 3)
    y = minigrad.tensor([0, 1, 2, 0, 1, 2])
    for dataset in ((x, y), TensorDataset(x, y)):
        (bx, by), = list(DataLoader(dataset, batch_size=6))
        np.testing.assert_array_equal(bx.numpy(), x.numpy())
        np.testing.assert_array_equal(by.numpy(), y.numpy())
    ds = TensorDataset(x, y)
    assert len(ds) == 6 and ds[2][1] == 2
    # A tuple is always columns (X, y), even of plain lists.
    (bx, by), = list(DataLoader(([[1.0], [2.0], [3.0]], [0, 1, 0]), batch_size=3))
    assert bx.shape == (3, 1) and by.tolist() == [0, 1, 0]


def test_batches_never_alias_the_dataset():
    x = np.zeros((4, 2), dtype=np.float32)
    for shuffle in (False, True):
        (bx,), = list(DataLoader((x,), batch_size=4, shuffle=shuffle, seed=0))
        with minigrad.no_grad():
            bx.add_(1.0)
        assert not x.any()


def test_generic_dataset_objects_are_collated():
    class Squares:
        def __len__(self):
            return 7

        def __getitem__(self, i):
            if not 0 <= i < 7:
                raise IndexError(i)
            return np.full(2, i, dtype=np.float32), i * i

    batches = list(DataLoader(Squares(), batch_size=3))
    assert [b[0].shape for b in batches] == [(3, 2), (3, 2), (1, 2)]
    np.testing.assert_array_equal(batches[1][1].numpy(), [9, 16, 25])
    assert batches[1][1].dtype == np.int64

    # Single values are collated as PyTorch's default_collate: Python floats give one float64 tensor per batch.
    singles = list(DataLoader([1.0, 2.0, 3.0], batch_size=2))
    assert isinstance(singles[0], minigrad.Tensor) and singles[0].dtype == np.float64
    assert singles[0].tolist() == [1.0, 2.0] and singles[1].tolist() == [3.0]


def test_loader_errors_are_clear():
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader((np.zeros(3),), batch_size=0)
    with pytest.raises(ValueError, match="different lengths"):
        DataLoader((np.zeros(3), np.zeros(4)))
    with pytest.raises(TypeError, match="__len__"):
        DataLoader(5)
    with pytest.raises(TypeError, match="dtype"):
        DataLoader((np.zeros(3, dtype=np.complex64),))
    with pytest.raises(minigrad.UnknownBackendError):
        DataLoader((np.zeros(3),), backend="nope")
    with pytest.raises(RuntimeError, match="stacked"):
        list(DataLoader([np.zeros(2), np.zeros(3)], batch_size=2))


@pytest.mark.skipif(not _numba_available(), reason="numba backend not available")
def test_backend_of_the_batches():
    (bx, by), = list(DataLoader((np.ones((2, 2), np.float32), np.arange(2)), batch_size=2, backend="numba"))
    assert bx.backend == by.backend == "numba"
    with minigrad.backend("numba"):
        (bx,), = list(DataLoader((np.ones((2, 2), np.float32),), batch_size=2))
    assert bx.backend == "numba"


# -- digits ------------------------------------------------------------------------------------------
def test_digits():
    pytest.importorskip("sklearn")
    x, y = datasets.digits()
    assert x.shape == (1797, 64) and x.dtype == np.float32 and y.dtype == np.int64
    assert x.min() == 0.0 and x.max() == 1.0 and set(np.unique(y)) == set(range(10))
    xtr, ytr = datasets.digits(train=True)
    xte, yte = datasets.digits(train=False)
    assert len(xtr) + len(xte) == 1797 and 0.18 < len(xte) / 1797 < 0.22
    assert np.bincount(yte).min() >= 30  # stratified: every class held out
    # disjoint, and identical on every call
    rows = {r.tobytes() for r in xtr}
    assert sum(r.tobytes() in rows for r in xte) <= 5  # (the data set itself has a few duplicate images)
    np.testing.assert_array_equal(datasets.digits(train=False)[1], yte)


def test_digits_match_scikit_learn_and_do_not_import_it():
    """digits() reads scikit-learn's bundled file itself (importing sklearn.datasets costs ~0.6 s)."""
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    code = ("import sys; from minigrad.data import datasets; x, y = datasets.digits(); "
            "print(x.shape, 'sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["(1797,", "64)", "False"], out.stderr
    bunch = sklearn_datasets.load_digits()
    x, y = datasets.digits()
    np.testing.assert_array_equal(x, (bunch.data.astype(np.float32) / np.float32(16.0)).astype(np.float32))
    np.testing.assert_array_equal(y, bunch.target)


def test_digits_without_sklearn_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # importlib.util.find_spec then finds nothing
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r"minigrad\[examples\]"):
        datasets.digits()


# -- IDX ---------------------------------------------------------------------------------------------
def _idx(array: np.ndarray, code: int) -> bytes:
    big = array.astype(array.dtype.newbyteorder(">"))
    header = bytes([0, 0, code, array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    return header + big.tobytes()


def _write(path: Path, data: bytes, compress: bool) -> Path:
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("array,code", [
    (np.arange(24, dtype=np.uint8).reshape(2, 3, 4), 0x08),
    (np.array([-3, 5], dtype=np.int8), 0x09),
    (np.array([[-300, 7]], dtype=np.int16), 0x0B),
    (np.array([1 << 20, -5], dtype=np.int32), 0x0C),
    (np.array([1.5, -2.25], dtype=np.float32), 0x0D),
    (np.array([np.pi], dtype=np.float64), 0x0E),
    (np.zeros((0, 28, 28), dtype=np.uint8), 0x08),
])
def test_read_idx(tmp_path, array, code, compress):
    out = datasets.read_idx(_write(tmp_path / "f.idx", _idx(array, code), compress))
    assert out.dtype == array.dtype and out.dtype.isnative
    np.testing.assert_array_equal(out, array)


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("data,match", [
    (b"", "not an IDX"),
    (b"\x01\x00\x08\x01" + b"\x00\x00\x00\x01" + b"\x05", "not an IDX"),  # bad magic
    (b"\x00\x00\x07\x01" + b"\x00\x00\x00\x01" + b"\x05", "not an IDX"),  # unknown type code
    (b"\x00\x00\x08\x03" + b"\x00\x00\x00\x01", "truncated IDX header"),
    (b"\x00\x00\x08\x01" + b"\x00\x00\x00\x04" + b"\x01\x02", "truncated"),
    (b"\x00\x00\x08\x01" + b"\x00\x00\x00\x01" + b"\x01\x02", "longer than its header"),
    (b"\x00\x00\x0d\x02" + b"\xff\xff\xff\xff" * 2, "over the limit"),  # absurd dimensions
])
def test_read_idx_refuses_malformed_files(tmp_path, data, match, compress):
    with pytest.raises(DatasetError, match=match):
        datasets.read_idx(_write(tmp_path / "bad", data, compress))


def test_read_idx_refuses_corrupt_gzip(tmp_path):
    blob = bytearray(gzip.compress(_idx(np.arange(1000, dtype=np.uint8), 0x08)))
    blob[len(blob) // 2] ^= 0xFF
    with pytest.raises(DatasetError):
        datasets.read_idx(_write(tmp_path / "bad.gz", bytes(blob), False))
    with pytest.raises(DatasetError):  # cut short
        datasets.read_idx(_write(tmp_path / "short.gz", bytes(blob[:40]), False))


# -- MNIST with small files written here -------------------------------------------------------------
def _fake_mnist(n: int = 12, seed: int = 0) -> dict[str, bytes]:
    """IDX bytes of tiny train and test splits, keyed by official file name."""
    rng = np.random.default_rng(seed)
    out = {}
    for prefix, count in (("train", n), ("t10k", n // 2)):
        out[f"{prefix}-images-idx3-ubyte"] = _idx(rng.integers(0, 256, (count, 28, 28), dtype=np.uint8), 0x08)
        out[f"{prefix}-labels-idx1-ubyte"] = _idx(rng.integers(0, 10, count, dtype=np.uint8), 0x08)
    return out


@pytest.fixture
def fake_mnist(monkeypatch):
    """Small MNIST-shaped files, with the checksum table patched to their MD5s."""
    raw = _fake_mnist()
    gz = {name: gzip.compress(data, mtime=0) for name, data in raw.items()}
    table = {name: (hashlib.md5(gz[name]).hexdigest(), len(gz[name]), hashlib.md5(raw[name]).hexdigest())
             for name in raw}
    monkeypatch.setattr(datasets, "MNIST_FILES", table)
    return raw, gz


def _parse(raw: dict[str, bytes], prefix: str):
    images = np.frombuffer(raw[f"{prefix}-images-idx3-ubyte"][16:], np.uint8).reshape(-1, 28, 28)
    labels = np.frombuffer(raw[f"{prefix}-labels-idx1-ubyte"][8:], np.uint8)
    return images, labels


@pytest.mark.parametrize("compressed", [True, False])
def test_mnist_reads_gzip_and_raw_files(tmp_path, fake_mnist, compressed):
    raw, gz = fake_mnist
    for name in raw:
        if compressed:
            (tmp_path / f"{name}.gz").write_bytes(gz[name])
        else:
            (tmp_path / name).write_bytes(raw[name])
    for train, prefix in ((True, "train"), (False, "t10k")):
        x, y = datasets.mnist(tmp_path, train=train)
        images, labels = _parse(raw, prefix)
        assert x.shape == (len(images), 1, 28, 28) and x.dtype == np.float32 and y.dtype == np.int64
        np.testing.assert_array_equal(x[:, 0], images.astype(np.float32) / 255)
        np.testing.assert_array_equal(y, labels)


def test_mnist_missing_files_say_which_and_where(tmp_path, fake_mnist):
    raw, gz = fake_mnist
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(gz["train-images-idx3-ubyte"])
    with pytest.raises(DatasetNotFoundError) as info:
        datasets.mnist(tmp_path, train=True)
    message = str(info.value)
    assert "train-labels-idx1-ubyte.gz" in message and str(tmp_path) in message
    assert "train-images" not in message and "download=True" in message
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, MinigradError)


def test_mnist_checksum_mismatch(tmp_path, fake_mnist):
    raw, gz = fake_mnist
    for name in raw:
        (tmp_path / f"{name}.gz").write_bytes(gz[name])
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(raw["t10k-labels-idx1-ubyte"], mtime=1))
    with pytest.raises(DatasetError, match="checksum"):
        datasets.mnist(tmp_path, train=False)


def test_mnist_validates_contents(tmp_path, monkeypatch):
    # Well-formed IDX files that are not MNIST (checksums patched to match them).
    files = {"t10k-images-idx3-ubyte": _idx(np.zeros((2, 27, 28), np.uint8), 0x08),
             "t10k-labels-idx1-ubyte": _idx(np.array([1, 11], np.uint8), 0x08)}
    monkeypatch.setattr(datasets, "MNIST_FILES", {n: ("-", 0, hashlib.md5(d).hexdigest()) for n, d in files.items()})
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    with pytest.raises(DatasetError, match="28, 28"):
        datasets.mnist(tmp_path, train=False)


# -- downloads from a loopback server ----------------------------------------------------------------
class _Server:
    """A loopback HTTP server: ``files`` maps URL paths to bytes; anything else is a 404."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[str] = []
        files, requests = self.files, self.requests

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                requests.append(self.path)
                body = files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = _Server()
    yield s
    s.close()


def test_download_tries_mirrors_in_order(tmp_path, fake_mnist, server):
    raw, gz = fake_mnist
    for name in raw:
        server.files[f"/good/{name}.gz"] = gz[name]
    root = tmp_path / "cache" / "mnist"
    x, y = datasets.mnist(root, train=True, download=True, progress=False,
                          mirrors=[server.url + "/missing/", server.url + "/good/"])
    np.testing.assert_array_equal(y, _parse(raw, "train")[1])
    assert sorted(os.listdir(root)) == ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]
    assert "/missing/train-images-idx3-ubyte.gz" in server.requests
    # Already there and verified: no second download.
    count = len(server.requests)
    datasets.mnist(root, train=True, download=True, progress=False, mirrors=[server.url + "/good/"])
    assert len(server.requests) == count


def test_download_with_progress_bar(tmp_path, fake_mnist, server):
    pytest.importorskip("tqdm")
    raw, gz = fake_mnist
    for name in raw:
        server.files[f"/{name}.gz"] = gz[name]
    x, _ = datasets.mnist(tmp_path, train=False, download=True, progress=True, mirrors=[server.url])
    assert len(x) == 6


def test_corrupted_download_leaves_nothing_behind(tmp_path, fake_mnist, server):
    raw, gz = fake_mnist
    for name in raw:
        corrupt = bytearray(gz[name])
        corrupt[-5] ^= 0xFF
        server.files[f"/bad/{name}.gz"] = bytes(corrupt)
        server.files[f"/long/{name}.gz"] = gz[name] + b"\x00" * 100_000
    with pytest.raises(DatasetError) as info:
        datasets.mnist(tmp_path, train=False, download=True, progress=False,
                       mirrors=[server.url + "/bad/", server.url + "/long/", server.url + "/none/"])
    message = str(info.value)
    assert "checksum mismatch" in message and "more than the expected" in message and "404" in message
    assert os.listdir(tmp_path) == []  # no partial or unverified file left


def test_download_replaces_a_corrupt_local_file(tmp_path, fake_mnist, server):
    raw, gz = fake_mnist
    for name in raw:
        server.files[f"/{name}.gz"] = gz[name]
        (tmp_path / f"{name}.gz").write_bytes(b"garbage")
    with pytest.raises(DatasetError, match="checksum"):
        datasets.mnist(tmp_path, train=False)
    datasets.mnist(tmp_path, train=False, download=True, progress=False, mirrors=[server.url])
    assert (tmp_path / "t10k-images-idx3-ubyte.gz").read_bytes() == gz["t10k-images-idx3-ubyte"]


def test_mirrors_from_the_environment(tmp_path, fake_mnist, server, monkeypatch):
    raw, gz = fake_mnist
    for name in raw:
        server.files[f"/env/{name}.gz"] = gz[name]
    monkeypatch.setenv("MINIGRAD_MNIST_MIRRORS", server.url + "/env/")
    datasets.mnist(tmp_path, train=False, download=True, progress=False)
    assert any(r.startswith("/env/") for r in server.requests)


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("MINIGRAD_DATA_DIR", str(tmp_path))
    assert datasets.default_cache_dir() == tmp_path
    monkeypatch.delenv("MINIGRAD_DATA_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert datasets.default_cache_dir() == tmp_path / "xdg" / "minigrad"


# -- the real MNIST test set, where this machine has it ---------------------------------------------
def _shared_mnist() -> Path:
    return Path(os.environ.get("MINIGRAD_MNIST_DIR", REPO.parent / "shared" / "data" / "mnist"))


@pytest.mark.skipif(not (_shared_mnist() / "t10k-labels-idx1-ubyte.gz").exists(),
                    reason="official MNIST test files not present (set MINIGRAD_MNIST_DIR)")
def test_official_mnist_test_set():
    x, y = datasets.mnist(_shared_mnist(), train=False)
    assert x.shape == (10000, 1, 28, 28) and y.shape == (10000,)
    assert y[:5].tolist() == [7, 2, 1, 0, 4]
    assert np.bincount(y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert 0.0 == x.min() and x.max() == 1.0


# -- reproducibility of a whole training run ---------------------------------------------------------
def _train_once(seed: int) -> list[np.ndarray]:
    """A tiny softmax-regression + hidden layer run: init, shuffling and updates all under manual_seed."""
    minigrad.manual_seed(seed)
    rng = np.random.default_rng(0)  # the data are fixed; only minigrad's own randomness varies with seed
    x = rng.standard_normal((64, 5)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    nn = minigrad.nn
    if hasattr(nn, "Linear") and hasattr(nn, "Sequential") and hasattr(nn.functional, "cross_entropy"):
        model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 2))
        params = list(model.parameters())
        forward = model
        loss_fn = nn.functional.cross_entropy
    else:
        params = [minigrad.randn(5, 8, requires_grad=True), minigrad.zeros(8, requires_grad=True),
                  minigrad.randn(8, 2, requires_grad=True), minigrad.zeros(2, requires_grad=True)]

        def forward(inputs):
            return (inputs @ params[0] + params[1]).relu() @ params[2] + params[3]

        def loss_fn(logits, target):
            onehot = minigrad.tensor(np.eye(2, dtype=np.float32)[target.numpy()])
            return -(logits.log_softmax(axis=1) * onehot).sum() / logits.shape[0]

    loader = DataLoader((x, y), batch_size=16, shuffle=True)
    for _ in range(3):
        for xb, yb in loader:
            loss = loss_fn(forward(xb), yb)
            for p in params:
                p.grad = None
            loss.backward()
            with minigrad.no_grad():
                for p in params:
                    p.sub_(p.grad * 0.1)
    return [p.numpy().copy() for p in params]


def test_training_twice_with_the_same_seed_gives_identical_parameters():
    first, second, other = _train_once(5), _train_once(5), _train_once(6)
    for a, b in zip(first, second):
        assert a.tobytes() == b.tobytes()
    assert any(a.tobytes() != c.tobytes() for a, c in zip(first, other))


@pytest.mark.parametrize("train", ["test", "train", 0, None])
def test_mnist_train_takes_only_a_bool(tmp_path, train):
    with pytest.raises(TypeError, match="train must be True"):
        datasets.mnist(tmp_path, train=train)


def test_digits_train_takes_a_bool_or_none():
    with pytest.raises(TypeError, match="train must be True, False or None"):
        datasets.digits(train="test")
