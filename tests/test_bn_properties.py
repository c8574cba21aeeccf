"""E5, ``examples/bn_properties.py``: a --quick smoke run (subprocess) whose JSON holds every check, passed,
and the script's own measuring helpers on tiny cases."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import minigrad

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
sys.path.insert(0, str(EXAMPLES))
import bn_properties  # noqa: E402
import ics_common  # noqa: E402

CHECKS = ("scale_invariance", "weight_norm_growth", "zero_gradients", "batch_of_one", "train_eval_gap",
          "double_backward")


def run_e5(out: Path, *args: str) -> dict:
    done = subprocess.run([sys.executable, str(EXAMPLES / "bn_properties.py"), "--quick", "--no-progress",
                           "--digits", "--out", str(out), *args], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("[pass]") == 7 and "FAIL" not in done.stdout
    assert (out / "e5_properties.png").stat().st_size > 1000
    return json.loads((out / "e5_properties.json").read_text())


def test_quick_run_passes_every_check_on_both_backends(tmp_path):
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    result = run_e5(tmp_path / "numpy")
    assert result["settings"]["args"]["lr"] == 0.5 and result["settings"]["backend"] == "numpy"
    assert result["settings"]["data"].startswith("scikit-learn 8x8 digits")
    for name in CHECKS:
        assert result[name]["passed"] is True, name
    scale = result["scale_invariance"]
    # With eps > 0 the invariance is approximate, and visibly so; with eps = 0 it is exact to rounding.
    assert scale["eps=1e-05"]["grad_aW_vs_grad_W_over_a_rel_err"] > 1e-9
    assert scale["eps=0"]["grad_aW_vs_grad_W_over_a_rel_err"] < 1e-12
    gap = result["train_eval_gap"]
    assert len(gap["steps"]) == len(gap["eval_mode"]) == len(gap["train_mode_class_sorted"])
    assert abs(gap["unbiased_variance"]["sqrt_(m-1)/m"] - np.sqrt(59 / 60)) < 1e-15
    assert result["batch_of_one"]["fused"]["message"].startswith("Expected more than 1 value per channel")
    assert result["double_backward"]["hvp"]["n_params"] > 1000

    pytest.importorskip("numba")
    other = run_e5(tmp_path / "numba", "--backend", "numba")
    assert other["train_eval_gap"]["eval_mode"] == gap["eval_mode"]
    assert other["train_eval_gap"]["train_mode_class_sorted"] == gap["train_mode_class_sorted"]
    for a, b in ((other["scale_invariance"]["eps=1e-05"]["loss_W"], scale["eps=1e-05"]["loss_W"]),
                 (other["double_backward"]["hvp"]["curvature_along_gradient"],
                  result["double_backward"]["hvp"]["curvature_along_gradient"])):
        assert a == pytest.approx(b, rel=1e-9)


def test_train_mode_accuracy_without_bn_equals_eval_accuracy_and_leaves_stats():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(130, 6)), rng.integers(0, 3, size=130)
    plain, bn = ics_common.twins((6, 5, 5, 5, 3), std=1.0, seed=0)
    order = np.arange(120)  # two whole batches of 60
    assert bn_properties._train_mode_accuracy(plain, x, y, order) == ics_common.accuracy(plain, x[:120], y[:120])
    by_hand = 0
    for half in (order[:60], order[60:]):  # train mode: each batch normalised by its own statistics
        by_hand += int((bn(minigrad.tensor(x[half])).argmax(axis=1).numpy() == y[half]).sum())
    for block in bn.hidden:
        block[1].reset_running_stats()
    assert bn_properties._train_mode_accuracy(bn, x, y, order) == by_hand / 120
    assert np.all(bn.hidden[1][1].running_var.numpy() == 1)


def test_zero_gradient_and_eps_term_checks_are_not_vacuous():
    class Args:
        seed = 1
    out = bn_properties.check_zero_gradients(Args)
    assert out["passed"]
    assert out["fused"]["typical_weight_grad"] > 1e-3  # the net does have gradients; only the bias's vanish
    assert np.all(np.abs(out["eps_term"]["formula"]) > 1e-4)  # eps = 0.1 makes the term clearly non-zero
