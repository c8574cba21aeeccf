"""Shared helpers of the internal-covariate-shift examples (``bn_*.py``): data, the sigmoid MLP, the command
line, progress bars, JSON and PNG output, and multi-seed sweeps through joblib.

The experiments and what they show are described in ``docs/ics.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import minigrad
from minigrad import nn
from minigrad.data import datasets

MLP_SIZES = (784, 100, 100, 100, 10)
BN_EPS = 1e-5
BN_MOMENTUM = 0.1


# -- data -------------------------------------------------------------------------------------------
@dataclass
class Data:
    """Train and held-out arrays (float64 features, int64 labels) and a name saying which data they are."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    name: str

    @property
    def n_features(self) -> int:
        return self.x_train.shape[1]


def stratified_split(y: np.ndarray, n_test: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, test) with exactly ``n_test`` held out, each class in proportion (largest remainder)."""
    classes, counts = np.unique(y, return_counts=True)
    share = counts * n_test / len(y)
    per_class = np.floor(share).astype(int)
    per_class[np.argsort(-(share - per_class), kind="stable")[: n_test - per_class.sum()]] += 1
    rng = np.random.default_rng(seed)
    test = np.concatenate([rng.permutation(np.flatnonzero(y == c))[:k] for c, k in zip(classes, per_class)])
    test = np.sort(test)
    return np.setdiff1d(np.arange(len(y)), test), test


def _idx_pair(root: Path, prefix: str) -> tuple[Path, Path] | None:
    """The images and labels IDX files of ``prefix`` ("train" or "t10k") in ``root``, gzipped or raw."""
    found = []
    for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"):
        candidates = [root / f"{prefix}-{kind}.gz", root / f"{prefix}-{kind}"]
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            return None
        found.append(path)
    return found[0], found[1]


def _read_mnist(pair: tuple[Path, Path]) -> tuple[np.ndarray, np.ndarray]:
    """Images binarised as in Ioffe & Szegedy's "binary image" (pixel > 127), flattened to 784 float64."""
    images, labels = datasets.read_idx(pair[0]), datasets.read_idx(pair[1])
    if images.ndim != 3 or len(images) != len(labels):
        raise minigrad.DatasetError(f"{pair[0]}: expected (n, rows, cols) images matching {len(labels)} labels, "
                                    f"got shape {images.shape}")
    return (images.reshape(len(images), -1) > 127).astype(np.float64), labels.astype(np.int64)


def load_data(data_dir: str | os.PathLike | None = None, *, digits: bool = False, download: bool = False,
              split_seed: int = 0) -> Data:
    """The experiments' data, the best available first.

    1. Full MNIST (60000/10000) when ``data_dir`` holds the train and t10k IDX files (``download=True``
       fetches them into the default cache first).
    2. The official 10k MNIST test set split 8000/2000, stratified by class with ``split_seed``, when
       ``data_dir`` holds only the t10k files.
    3. scikit-learn's 8x8 digits split 1297/500 the same way (features /16), when there is no MNIST or
       ``digits=True``.

    Without ``data_dir`` the default MNIST cache of ``minigrad.data.datasets`` is tried. A ``data_dir`` given
    explicitly must hold MNIST files.
    """
    if not digits:
        if download:
            root = Path(data_dir) if data_dir else datasets.default_cache_dir() / "mnist"
            datasets.mnist(root, train=True, download=True)
            datasets.mnist(root, train=False, download=True)
        root = Path(data_dir) if data_dir else datasets.default_cache_dir() / "mnist"
        train, test = _idx_pair(root, "train"), _idx_pair(root, "t10k")
        if train and test:
            (x_train, y_train), (x_test, y_test) = _read_mnist(train), _read_mnist(test)
            return Data(x_train, y_train, x_test, y_test,
                        f"MNIST {len(y_train)}/{len(y_test)} (binarised)")
        if test:
            x, y = _read_mnist(test)
            n_test = round(len(y) * 0.2)
            tr, te = stratified_split(y, n_test, split_seed)
            return Data(x[tr], y[tr], x[te], y[te],
                        f"MNIST test set split {len(tr)}/{len(te)} (binarised)")
        if data_dir:
            raise minigrad.DatasetNotFoundError(
                f"--data-dir {data_dir}: no MNIST IDX files there (t10k-images-idx3-ubyte[.gz] and "
                "t10k-labels-idx1-ubyte[.gz], and optionally the train-* pair); leave --data-dir out to use "
                "scikit-learn's digits")
    x, y = datasets.digits()
    tr, te = stratified_split(y, 500, split_seed)
    return Data(x[tr].astype(np.float64), y[tr], x[te].astype(np.float64), y[te],
                f"scikit-learn 8x8 digits {len(tr)}/{len(te)}")


# -- the sigmoid MLP of Ioffe & Szegedy's Figure 1 ---------------------------------------------------
def init_weights(sizes: Sequence[int], init: str = "normal", std: float = 0.01, seed: int = 0
                 ) -> list[np.ndarray]:
    """One (out, in) float64 matrix per layer, W ~ N(0, std^2) ("normal") or Glorot uniform ("glorot").

    Drawn with NumPy from ``seed``, so every backend and both twins (with and without BN) start alike.
    """
    rng = np.random.default_rng(seed)
    weights = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        if init == "normal":
            weights.append(rng.normal(0.0, std, size=(fan_out, fan_in)))
        elif init == "glorot":
            bound = np.sqrt(6.0 / (fan_in + fan_out))
            weights.append(rng.uniform(-bound, bound, size=(fan_out, fan_in)))
        else:
            raise ValueError(f"init_weights: init must be 'normal' or 'glorot', got {init!r}")
    return weights


class SigmoidMLP(nn.Module):
    """Linear -> [BN] -> [extra] -> sigmoid per hidden layer, then a linear output (logits).

    With ``batchnorm`` the hidden linear layers have no bias (BN's beta subsumes it); BN has gamma = 1,
    beta = 0, eps = 1e-5, momentum 0.1. Without it the biases start at 0. ``extra(i)``, when given, returns a
    module inserted before hidden layer i's sigmoid (e.g. noise injection).
    """

    def __init__(self, weights: Sequence[np.ndarray], batchnorm: bool,
                 extra: Callable[[int], nn.Module] | None = None, dtype: str = "float64") -> None:
        super().__init__()
        self.batchnorm = batchnorm
        self.hidden = nn.ModuleList()
        for i, w in enumerate(weights[:-1]):
            fan_out, fan_in = w.shape
            layers = [nn.Linear(fan_in, fan_out, bias=not batchnorm, dtype=dtype)]
            if batchnorm:
                layers.append(nn.BatchNorm1d(fan_out, eps=BN_EPS, momentum=BN_MOMENTUM, dtype=dtype))
            if extra is not None:
                layers.append(extra(i))
            self.hidden.append(nn.Sequential(*layers))
        self.out = nn.Linear(weights[-1].shape[1], weights[-1].shape[0], dtype=dtype)
        with minigrad.no_grad():
            for layer, w in zip([block[0] for block in self.hidden] + [self.out], weights):
                layer.weight.copy_(minigrad.tensor(w, dtype=dtype))
                if layer.bias is not None:
                    layer.bias.zero_()

    def forward(self, x: minigrad.Tensor) -> minigrad.Tensor:
        for block in self.hidden:
            x = block(x).sigmoid()
        return self.out(x)

    def pre_activations(self, x: minigrad.Tensor) -> list[minigrad.Tensor]:
        """The input of every hidden sigmoid, in the current mode (train mode updates BN's running stats)."""
        pre = []
        for block in self.hidden:
            pre.append(block(x))
            x = pre[-1].sigmoid()
        return pre

    def linear_weights(self) -> list[nn.Parameter]:
        """The weight matrices, first hidden layer to output."""
        return [block[0].weight for block in self.hidden] + [self.out.weight]


def twins(sizes: Sequence[int] = MLP_SIZES, *, init: str = "normal", std: float = 0.01, seed: int = 0,
          extra: Callable[[int], nn.Module] | None = None) -> tuple[SigmoidMLP, SigmoidMLP]:
    """The network without and with BN, from the same initial weights."""
    weights = init_weights(sizes, init, std, seed)
    return SigmoidMLP(weights, batchnorm=False, extra=extra), SigmoidMLP(weights, batchnorm=True, extra=extra)


@contextlib.contextmanager
def running_stats_frozen(model: nn.Module) -> Iterator[None]:
    """Restore every buffer (BN running statistics, batch counters) on exit: a probe leaves no trace."""
    saved = [(b, b.numpy().copy()) for b in model.buffers()]
    try:
        yield
    finally:
        with minigrad.no_grad():
            for buffer, value in saved:
                buffer.copy_(minigrad.tensor(value, dtype=buffer.dtype, backend=buffer.backend))


def probe_pre_activations(model: SigmoidMLP, x: np.ndarray, *, train_mode: bool = True) -> list[np.ndarray]:
    """Each hidden layer's sigmoid input on ``x`` as arrays (n, units); BN in train mode uses the batch's
    statistics (Ioffe's N_BN^tr) without touching the running statistics."""
    was_training = model.training
    model.train(train_mode)
    try:
        with minigrad.no_grad(), running_stats_frozen(model):
            return [t.numpy().copy() for t in model.pre_activations(minigrad.tensor(x))]
    finally:
        model.train(was_training)


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    """Fraction classified correctly, in eval mode (BN uses its running statistics)."""
    was_training = model.training
    model.eval()
    with minigrad.no_grad():
        predicted = model(minigrad.tensor(x)).argmax(axis=1).numpy()
    model.train(was_training)
    return float((predicted == y).mean())


def percentiles(values: np.ndarray, qs: Sequence[float] = (15, 50, 85)) -> list[float]:
    """The ``qs`` percentiles of ``values``, linear interpolation between order statistics (NumPy's default)."""
    ordered = np.sort(np.ravel(values))
    out = []
    for q in qs:
        pos = q / 100 * (len(ordered) - 1)
        lo = int(np.floor(pos))
        hi = min(lo + 1, len(ordered) - 1)
        out.append(float(ordered[lo] + (pos - lo) * (ordered[hi] - ordered[lo])))
    return out


def batch_indices(n: int, batch: int, steps: int, seed: int) -> Iterator[np.ndarray]:
    """``steps`` mini-batches of ``batch`` indices: epochs of fresh permutations, incomplete tails dropped."""
    rng = np.random.default_rng(seed)
    done = 0
    while True:
        order = rng.permutation(n)
        for start in range(0, n - batch + 1, batch):
            if done == steps:
                return
            yield order[start:start + batch]
            done += 1


# -- command line, progress, output -----------------------------------------------------------------
def make_parser(description: str, *, steps: int, quick_steps: int, seeds: bool = False
                ) -> argparse.ArgumentParser:
    """The options every ICS script shares; ``--steps`` defaults to ``steps`` (``quick_steps`` with --quick)."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--backend", default="numpy", help="minigrad backend: numpy or numba (default: numpy)")
    p.add_argument("--seed", type=int, default=0, help="seed of the initial weights and the batches (default: 0)")
    p.add_argument("--steps", type=int, default=None,
                   help=f"training steps (default: {steps}, {quick_steps} with --quick)")
    p.add_argument("--out", default="ics_out", metavar="DIR", help="where the JSON and PNGs go (default: ics_out)")
    p.add_argument("--quick", action="store_true", help="a few-second smoke run on a small subset")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    p.add_argument("--data-dir", default=None, metavar="DIR",
                   help="folder with MNIST IDX files (full MNIST, or only the t10k pair, split 8000/2000); "
                        "default: the minigrad MNIST cache if it has them, else scikit-learn's 8x8 digits")
    p.add_argument("--digits", action="store_true", help="use scikit-learn's 8x8 digits even if MNIST is there")
    p.add_argument("--threads", type=int, default=1,
                   help="BLAS (and PyTorch) threads per process; 0 keeps the libraries' defaults (default: 1, "
                        "fastest for these small matrices on a shared machine)")
    p.add_argument("--download", action="store_true", help="download full MNIST into the cache first (internet)")
    if seeds:
        p.add_argument("--seeds", type=int, default=1, metavar="N",
                       help="run seeds seed..seed+N-1 and aggregate (default: 1)")
        p.add_argument("--jobs", type=int, default=None,
                       help="parallel worker processes for --seeds (default: min(N, CPU count))")
    p.set_defaults(default_steps=(steps, quick_steps))
    return p


def parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse, fill the step (and, for a quick sweep, worker) defaults, select the backend."""
    args = parser.parse_args(argv)
    steps, quick_steps = args.default_steps
    del args.default_steps
    if args.steps is None:
        args.steps = quick_steps if args.quick else steps
    if args.quick and getattr(args, "jobs", 0) is None:
        args.jobs = 1  # worker start-up would dominate a smoke run
    minigrad.set_backend(args.backend)
    limit_threads(args.threads)
    return args


def limit_threads(threads: int) -> None:
    """Cap BLAS threads (threadpoolctl, if installed) for the rest of the run; 0 leaves the defaults."""
    if threads:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            return
        threadpool_limits(threads)


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def set_postfix(self, *args, **kwargs) -> None:
        pass

    def close(self) -> None:
        pass


def progress(total: int, enabled: bool = True, desc: str | None = None):
    """A tqdm bar, or an object with the same ``update``/``set_postfix``/``close`` when disabled or absent."""
    if enabled:
        try:
            from tqdm.auto import tqdm
        except ImportError:
            return _NoBar()
        return tqdm(total=total, desc=desc, unit="step", leave=False)
    return _NoBar()


def settings(args: argparse.Namespace, data: Data | None = None) -> dict:
    """Everything needed to rerun: the command line, every option, the data, versions, the backend."""
    return {
        "argv": [Path(sys.argv[0]).name, *sys.argv[1:]],
        "args": vars(args),
        "data": data.name if data is not None else None,
        "n_train": int(len(data.y_train)) if data is not None else None,
        "n_test": int(len(data.y_test)) if data is not None else None,
        "minigrad": minigrad.__version__,
        "backend": minigrad.get_backend(),
        "numpy": np.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return value


def write_json(path: str | os.PathLike, payload: dict) -> Path:
    """Write ``payload`` (NumPy values converted) as indented JSON, creating the folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_jsonable(payload), indent=1, allow_nan=True) + "\n")
    return path


def quick_subset(data: Data) -> Data:
    """The first 600 training and 200 held-out examples: the data of a ``--quick`` smoke run."""
    return Data(data.x_train[:600], data.y_train[:600], data.x_test[:200], data.y_test[:200],
                data.name + ", quick subset")


def cross_entropy(model: nn.Module, x: minigrad.Tensor, y: minigrad.Tensor) -> minigrad.Tensor:
    """The training loss of every experiment: softmax cross-entropy, mean over the batch."""
    return nn.functional.cross_entropy(model(x), y)


def band(ax, x, runs, label: str, color: str, style: str = "-") -> None:
    """The median over seeds as a line, the min-max range shaded."""
    runs = np.asarray(runs, dtype=float)
    ax.plot(x, np.median(runs, axis=0), style, color=color, label=label, lw=1.2)
    if len(runs) > 1:
        ax.fill_between(x, runs.min(axis=0), runs.max(axis=0), color=color, alpha=0.2, lw=0)


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend (works without a display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: str | os.PathLike, dpi: int = 80) -> Path:
    """Save ``fig`` as PNG at a modest resolution (small files for docs/) and close it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    pyplot().close(fig)
    return path


# -- multi-seed sweeps ------------------------------------------------------------------------------
def run_seeds(fn: Callable[[int], object], seeds: Sequence[int], n_jobs: int | None = None) -> list:
    """``[fn(s) for s in seeds]``, in ``n_jobs`` worker processes through joblib (in order).

    Each run depends only on its seed, so the results do not depend on ``n_jobs``. To spread a sweep over a
    cluster, wrap the call in ``joblib.parallel_config(backend="dask")`` (or "ray"), see docs/ics.md.
    """
    seeds = list(seeds)
    n_jobs = min(len(seeds), os.cpu_count() or 1) if n_jobs is None else n_jobs
    if n_jobs == 1 or len(seeds) <= 1:
        return [fn(s) for s in seeds]
    from joblib import Parallel, delayed

    # Worker processes start with the default backend: each run selects the caller's first.
    return Parallel(n_jobs=n_jobs)(delayed(_on_backend)(fn, minigrad.get_backend(), s) for s in seeds)


def _on_backend(fn: Callable[[int], object], backend: str, seed: int) -> object:
    minigrad.set_backend(backend)
    return fn(seed)
