"""The shared helpers of the ICS examples (``examples/ics_common.py``), each against an independent computation."""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

import numpy as np
import pytest

import minigrad

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
import ics_common  # noqa: E402


@pytest.mark.parametrize("n", [1, 2, 7, 500])
def test_percentiles_match_numpy(n):
    rng = np.random.default_rng(n)
    values = np.round(rng.normal(size=n), 1)  # rounding makes ties
    qs = (0, 15, 50, 85, 100)
    np.testing.assert_allclose(ics_common.percentiles(values, qs), np.percentile(values, qs), rtol=0, atol=1e-12)


def test_stratified_split_is_exact_stratified_and_deterministic():
    rng = np.random.default_rng(0)
    y = rng.choice(10, size=1003, p=np.linspace(1, 2, 10) / np.linspace(1, 2, 10).sum())
    train, test = ics_common.stratified_split(y, 250, seed=3)
    assert len(test) == 250 and len(train) == 753
    assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(len(y)))
    expected = np.bincount(y) * 250 / len(y)
    assert np.all(np.abs(np.bincount(y[test], minlength=10) - expected) < 1)
    again_train, again_test = ics_common.stratified_split(y, 250, seed=3)
    assert np.array_equal(test, again_test) and np.array_equal(train, again_train)
    assert not np.array_equal(test, ics_common.stratified_split(y, 250, seed=4)[1])


def test_twins_share_initial_weights_and_differ_only_by_bn():
    plain, bn = ics_common.twins((12, 7, 6, 5, 3), std=0.1, seed=5)
    for a, b in zip(plain.linear_weights(), bn.linear_weights()):
        assert a.dtype == minigrad.float64
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    reference = ics_common.init_weights((12, 7, 6, 5, 3), std=0.1, seed=5)
    np.testing.assert_array_equal(plain.linear_weights()[1].numpy(), reference[1])
    assert all(block[0].bias is None for block in bn.hidden)
    assert all(np.all(block[0].bias.numpy() == 0) for block in plain.hidden)
    assert not any(isinstance(m, minigrad.nn.BatchNorm1d) for m in plain.modules())
    bns = [m for m in bn.modules() if isinstance(m, minigrad.nn.BatchNorm1d)]
    assert len(bns) == 3 and all(m.eps == 1e-5 and m.momentum == 0.1 for m in bns)
    assert np.all(bns[0].weight.numpy() == 1) and np.all(bns[0].bias.numpy() == 0)


def test_glorot_init_bound():
    (w,) = ics_common.init_weights((300, 200), init="glorot", seed=0)
    bound = np.sqrt(6 / 500)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    with pytest.raises(ValueError, match="init must be"):
        ics_common.init_weights((3, 2), init="he")


def test_probe_is_batch_normalised_by_hand_and_leaves_running_stats_alone():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(9, 12))
    plain, bn = ics_common.twins((12, 7, 6, 5, 3), std=0.5, seed=2)
    w0 = bn.linear_weights()[0].numpy()
    z = x @ w0.T
    expected = (z - z.mean(0)) / np.sqrt(z.var(0) + 1e-5)  # biased variance, gamma 1, beta 0
    pre = ics_common.probe_pre_activations(bn, x)
    np.testing.assert_allclose(pre[0], expected, rtol=1e-10, atol=1e-12)
    h1 = 1 / (1 + np.exp(-expected))
    z1 = h1 @ bn.linear_weights()[1].numpy().T
    np.testing.assert_allclose(pre[1], (z1 - z1.mean(0)) / np.sqrt(z1.var(0) + 1e-5), rtol=1e-10, atol=1e-12)
    bn0 = bn.hidden[0][1]
    assert np.all(bn0.running_mean.numpy() == 0) and bn0.num_batches_tracked.item() == 0
    np.testing.assert_allclose(ics_common.probe_pre_activations(plain, x)[0], z, rtol=1e-12)


def test_batch_indices_are_epochs_of_permutations():
    batches = list(ics_common.batch_indices(23, 5, steps=9, seed=0))
    assert len(batches) == 9 and all(len(b) == 5 for b in batches)
    first_epoch = np.concatenate(batches[:4])  # 4 full batches per epoch, the 3-sample tail dropped
    assert len(np.unique(first_epoch)) == 20
    again = list(ics_common.batch_indices(23, 5, steps=9, seed=0))
    assert all(np.array_equal(a, b) for a, b in zip(batches, again))


def _sweep_run(seed: int) -> list[float]:
    """A tiny BN training run, all of whose randomness comes from ``seed``."""
    plain, bn = ics_common.twins((8, 6, 6, 6, 3), std=0.3, seed=seed)
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(40, 8)), rng.integers(0, 3, size=40)
    opt = minigrad.optim.SGD(bn.parameters(), lr=0.5)
    losses = []
    for idx in ics_common.batch_indices(40, 10, steps=6, seed=seed):
        loss = minigrad.nn.functional.cross_entropy(bn(minigrad.tensor(x[idx])), minigrad.tensor(y[idx]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses + [ics_common.accuracy(bn, x, y)]


def test_run_seeds_identical_for_any_number_of_jobs():
    pytest.importorskip("joblib")
    serial = ics_common.run_seeds(_sweep_run, [0, 1, 2], n_jobs=1)
    parallel = ics_common.run_seeds(_sweep_run, [0, 1, 2], n_jobs=2)
    assert serial == parallel
    assert serial[0] != serial[1]


def test_digits_fallback_without_mnist(tmp_path, monkeypatch):
    pytest.importorskip("sklearn")
    monkeypatch.setenv("MINIGRAD_DATA_DIR", str(tmp_path))  # an empty cache: no MNIST anywhere
    data = ics_common.load_data()
    assert data.name == "scikit-learn 8x8 digits 1297/500"
    assert data.x_train.shape == (1297, 64) and data.x_test.shape == (500, 64)
    assert data.x_train.dtype == np.float64 and 0 <= data.x_train.min() and data.x_train.max() == 1
    forced = ics_common.load_data(digits=True)
    np.testing.assert_array_equal(forced.y_test, data.y_test)


def _write_idx(path: Path, array: np.ndarray, compress: bool) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    raw = header + array.astype(np.uint8).tobytes()
    if compress:
        path.with_name(path.name + ".gz").write_bytes(gzip.compress(raw))
    else:
        path.write_bytes(raw)


def _fake_mnist(root: Path, prefix: str, n: int, seed: int, compress: bool) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28))
    labels = np.arange(n) % 10
    _write_idx(root / f"{prefix}-images-idx3-ubyte", images, compress)
    _write_idx(root / f"{prefix}-labels-idx1-ubyte", labels, compress)
    return images, labels


def test_mnist_test_set_only_is_split_and_binarised(tmp_path):
    images, labels = _fake_mnist(tmp_path, "t10k", 50, seed=0, compress=True)
    data = ics_common.load_data(tmp_path)
    assert data.name == "MNIST test set split 40/10 (binarised)"
    assert np.array_equal(np.bincount(data.y_test), np.ones(10))
    train, test = ics_common.stratified_split(labels, 10, seed=0)
    np.testing.assert_array_equal(data.x_test, (images[test].reshape(10, 784) > 127).astype(np.float64))
    np.testing.assert_array_equal(data.y_train, labels[train])


def test_full_mnist_when_train_files_exist(tmp_path):
    train_images, _ = _fake_mnist(tmp_path, "train", 30, seed=1, compress=False)
    _fake_mnist(tmp_path, "t10k", 20, seed=2, compress=True)
    data = ics_common.load_data(tmp_path)
    assert data.name == "MNIST 30/20 (binarised)"
    np.testing.assert_array_equal(data.x_train, (train_images.reshape(30, 784) > 127).astype(np.float64))


def test_explicit_data_dir_without_mnist_is_an_error(tmp_path):
    with pytest.raises(minigrad.DatasetNotFoundError, match="no MNIST IDX files"):
        ics_common.load_data(tmp_path)


def test_write_json_records_numpy_values(tmp_path):
    path = ics_common.write_json(tmp_path / "sub" / "r.json", {"a": np.float64(0.5), "b": np.arange(3),
                                                               "c": {"d": (np.int64(2), Path("x"))}})
    assert json.loads(path.read_text()) == {"a": 0.5, "b": [0, 1, 2], "c": {"d": [2, "x"]}}


def test_parser_defaults_and_progress_without_bar():
    parser = ics_common.make_parser("t", steps=100, quick_steps=7, seeds=True)
    args = ics_common.parse(parser, ["--quick", "--seeds", "3", "--threads", "0"])  # 0: leave BLAS alone
    assert args.steps == 7 and args.seeds == 3 and args.backend == "numpy"
    assert ics_common.parse(parser, ["--threads", "0"]).steps == 100
    bar = ics_common.progress(10, enabled=False)
    bar.update()
    bar.set_postfix(loss=1.0)
    bar.close()
