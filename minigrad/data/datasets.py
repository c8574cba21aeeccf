"""Datasets: scikit-learn's bundled 8x8 digits (offline) and MNIST from its IDX files.

Both return NumPy arrays ``(X, y)``: images as float32 scaled to [0, 1] and labels as int64, ready for
``DataLoader((X, y), ...)``.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import importlib.util
import math
import os
import tempfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import DatasetError, DatasetNotFoundError

__all__ = ["digits", "mnist", "read_idx", "MNIST_FILES", "MNIST_MIRRORS", "default_cache_dir"]


# -- digits -----------------------------------------------------------------------------------------
def digits(train: bool | None = None, *, test_fraction: float = 0.2, seed: int = 0
           ) -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 8x8 handwritten digits bundled with scikit-learn: ``X`` (n, 64) float32 in [0, 1], ``y`` int64.

    ``train=None`` returns every sample; ``train=True``/``False`` returns one side of a split stratified by
    class: ``test_fraction`` of each class held out, chosen by ``seed``, identical on every call.
    """
    table = _digits_table()
    x = table[:, :64].astype(np.float32) / np.float32(16.0)
    y = table[:, 64].astype(np.int64)
    if train is None:
        return x, y
    if not isinstance(train, (bool, np.bool_)):
        raise TypeError(f"digits: train must be True, False or None (every sample), got {train!r}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"digits: test_fraction must be in (0, 1), got {test_fraction}")
    rng = np.random.default_rng(seed)
    test = np.zeros(len(y), dtype=bool)
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        test[members[: round(len(members) * test_fraction)]] = True
    keep = ~test if train else test
    return x[keep], y[keep]


def _digits_table() -> np.ndarray:
    """The digits as a (1797, 65) table: 64 pixel values (0-16), then the label.

    Read straight from scikit-learn's ``datasets/data/digits.csv.gz``, found without importing the package:
    importing ``sklearn.datasets`` took longer than the rest of the main job (docs/performance.md).
    ``load_digits()`` is the fallback should the file move.
    """
    spec = importlib.util.find_spec("sklearn")
    for root in (spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(root) / "datasets" / "data" / "digits.csv.gz"
        if path.is_file():
            with gzip.open(path, "rt") as f:
                table = np.loadtxt(f, delimiter=",")
            if table.shape == (1797, 65):
                return table
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ImportError(
            "minigrad.data.datasets.digits() needs scikit-learn, which bundles the data set offline: "
            "pip install 'minigrad[examples]' (or pip install scikit-learn)") from None
    bunch = load_digits()
    return np.column_stack([bunch.data, bunch.target])


# -- IDX files --------------------------------------------------------------------------------------
# IDX type codes (third magic byte) -> big-endian dtype; the fourth byte is the number of dimensions.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
DEFAULT_MAX_IDX_BYTES = 1 << 31


def _open(path: Path):
    with open(path, "rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gzipped else open(path, "rb")  # the caller closes it


def read_idx(path: str | os.PathLike, *, max_bytes: int = DEFAULT_MAX_IDX_BYTES) -> np.ndarray:
    """Read an IDX file (gzip-compressed or raw) into a native-endian array, validating it fully.

    The header's magic number, type code and dimensions are checked, and the data must be exactly as long as
    the dimensions say; at most ``max_bytes`` of data are read. Anything else raises ``DatasetError``.
    """
    path = Path(path)
    try:
        with _open(path) as f:
            magic = f.read(4)
            if len(magic) < 4 or magic[:2] != b"\x00\x00" or magic[2] not in _IDX_DTYPES or magic[3] == 0:
                raise DatasetError(f"{path}: not an IDX file (magic bytes {magic.hex() or 'missing'})")
            dtype = np.dtype(_IDX_DTYPES[magic[2]])
            ndim = magic[3]
            raw_dims = f.read(4 * ndim)
            if len(raw_dims) != 4 * ndim:
                raise DatasetError(f"{path}: truncated IDX header ({ndim} dimensions announced)")
            dims = tuple(int(d) for d in np.frombuffer(raw_dims, dtype=">u4"))
            nbytes = math.prod(dims) * dtype.itemsize
            if nbytes > max_bytes:
                raise DatasetError(f"{path}: the IDX header announces {dims} ({nbytes} bytes), over the "
                                   f"limit of {max_bytes} bytes")
            data = f.read(nbytes + 1)  # one byte more, to detect trailing garbage
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        if isinstance(exc, FileNotFoundError):
            raise
        raise DatasetError(f"{path}: cannot read the IDX file ({exc})") from exc
    if len(data) != nbytes:
        what = "truncated" if len(data) < nbytes else "longer than its header says"
        raise DatasetError(f"{path}: IDX data {what}: header {dims} needs {nbytes} bytes, found "
                           f"{len(data) if len(data) < nbytes else 'more'}")
    return np.frombuffer(data, dtype=dtype).reshape(dims).astype(dtype.newbyteorder("="))


# -- MNIST ------------------------------------------------------------------------------------------
# name -> (md5 of the .gz file, size of the .gz file, md5 of the decompressed file), as published.
MNIST_FILES: dict[str, tuple[str, int, str]] = {
    "train-images-idx3-ubyte": ("f68b3c2dcbeaaa9fbdd348bbdeb94873", 9912422, "6bbc9ace898e44ae57da46a324031adb"),
    "train-labels-idx1-ubyte": ("d53e105ee54ea40749a09fcbcd1e9432", 28881, "a25bea736e30d166cdddb491f175f624"),
    "t10k-images-idx3-ubyte": ("9fb629c4189551a2d022fa330f9573f3", 1648877, "2646ac647ad5339dbf082846283269ea"),
    "t10k-labels-idx1-ubyte": ("ec29112dd5afa0611ce80d1b7f02629c", 4542, "27ae3e4e09519cfbb04c329615203637"),
}
# Tried in order; override with mnist(..., mirrors=[...]) or MINIGRAD_MNIST_MIRRORS (space-separated).
MNIST_MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)


def default_cache_dir() -> Path:
    """``$MINIGRAD_DATA_DIR``, else ``$XDG_CACHE_HOME/minigrad``, else ``~/.cache/minigrad``."""
    if os.environ.get("MINIGRAD_DATA_DIR"):
        return Path(os.environ["MINIGRAD_DATA_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "minigrad"


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verified(root: Path, name: str) -> Path | None:
    """The path of ``name`` (``.gz`` or raw) under ``root`` if present; ``DatasetError`` if it fails its MD5."""
    gz_md5, _, raw_md5 = MNIST_FILES[name]
    for path, expected in ((root / f"{name}.gz", gz_md5), (root / name, raw_md5)):
        if path.is_file():
            found = _md5(path)
            if found != expected:
                raise DatasetError(
                    f"{path} fails its checksum (md5 {found}, expected {expected}): the file is corrupt or "
                    "not the official MNIST file; delete it and fetch it again (download=True)")
            return path
    return None


def _download(name: str, root: Path, mirrors: Sequence[str], progress: bool, timeout: float) -> Path:
    """Fetch ``name.gz`` into ``root`` from the first mirror that serves it intact; atomic, checksummed."""
    expected_md5, size, _ = MNIST_FILES[name]
    filename = f"{name}.gz"
    root.mkdir(parents=True, exist_ok=True)
    failures = []
    for mirror in mirrors:
        url = mirror if mirror.endswith(filename) else mirror.rstrip("/") + "/" + filename
        fd, tmp = tempfile.mkstemp(prefix=f".{filename}.", suffix=".part", dir=root)
        try:
            digest = hashlib.md5(usedforsecurity=False)
            received = 0
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response, \
                    _progress_bar(size, filename, progress) as bar:
                while True:
                    block = response.read(1 << 16)
                    if not block:
                        break
                    received += len(block)
                    if received > size:  # never let a misbehaving server fill the disk
                        raise DatasetError(f"more than the expected {size} bytes")
                    digest.update(block)
                    out.write(block)
                    bar.update(len(block))
            if digest.hexdigest() != expected_md5:
                raise DatasetError(f"checksum mismatch (md5 {digest.hexdigest()}, expected {expected_md5}, "
                                   f"{received} bytes received)")
            os.replace(tmp, root / filename)
            return root / filename
        except (OSError, urllib.error.URLError, DatasetError, ValueError) as exc:
            failures.append(f"  {url}: {exc}")
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
    raise DatasetError(f"could not download {filename}; every mirror failed:\n" + "\n".join(failures))


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def _progress_bar(total: int, name: str, enabled: bool):
    if enabled:
        try:
            from tqdm.auto import tqdm
        except ImportError:
            return _NoBar()
        return tqdm(total=total, unit="B", unit_scale=True, desc=name, leave=False)
    return _NoBar()


def mnist(root: str | os.PathLike | None = None, train: bool = True, download: bool = False, *,
          mirrors: Sequence[str] | None = None, progress: bool = True, timeout: float = 30.0
          ) -> tuple[np.ndarray, np.ndarray]:
    """MNIST from its IDX files: ``X`` (n, 1, 28, 28) float32 in [0, 1] and ``y`` (n,) int64.

    ``root`` is the directory holding the files, gzip-compressed (``train-images-idx3-ubyte.gz``, ...) or
    raw (``train-images-idx3-ubyte``, ...); default ``default_cache_dir() / "mnist"``. Every file is checked
    against the official MD5. ``download=True`` fetches missing (or corrupt) files from ``mirrors`` (default
    ``MNIST_MIRRORS``, or ``MINIGRAD_MNIST_MIRRORS``) into ``root``: streamed to a temporary file, verified,
    then renamed into place, so a failed download leaves nothing behind. Without ``download``, missing files
    raise ``DatasetNotFoundError`` naming them and where to put them.
    """
    if not isinstance(train, (bool, np.bool_)):
        raise TypeError(f"mnist: train must be True (training set) or False (test set), got {train!r}")
    root = Path(root) if root is not None else default_cache_dir() / "mnist"
    prefix = "train" if train else "t10k"
    names = (f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte")
    if mirrors is None:
        env = os.environ.get("MINIGRAD_MNIST_MIRRORS", "").split()
        mirrors = env or MNIST_MIRRORS
    paths = []
    for name in names:
        try:
            path = _verified(root, name)
        except DatasetError:
            if not download:
                raise
            path = None  # corrupt: fetch a fresh copy; it replaces the bad .gz only once verified
        if path is None and download:
            path = _download(name, root, mirrors, progress, timeout)
        paths.append(path)
    missing = [f"{n}.gz" for n, p in zip(names, paths) if p is None]
    if missing:
        raise DatasetNotFoundError(
            f"MNIST ({'train' if train else 'test'} split) files missing in {root}: {', '.join(missing)}. "
            f"Put them there (gzip-compressed as published, or decompressed without the .gz suffix), e.g. "
            f"from {mirrors[0]}, or call mnist(..., download=True).")
    images, labels = read_idx(paths[0]), read_idx(paths[1])
    if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
        raise DatasetError(f"{paths[0]}: expected uint8 images of shape (n, 28, 28), got {images.dtype} "
                           f"{images.shape}")
    if labels.ndim != 1 or labels.dtype != np.uint8 or len(labels) != len(images):
        raise DatasetError(f"{paths[1]}: expected {len(images)} uint8 labels, got {labels.dtype} {labels.shape}")
    if labels.size and labels.max() > 9:
        raise DatasetError(f"{paths[1]}: labels must be digits 0-9, found {int(labels.max())}")
    x = (images.astype(np.float32) / np.float32(255.0))[:, None, :, :]
    return x, labels.astype(np.int64)
