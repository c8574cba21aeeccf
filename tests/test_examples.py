"""Smoke test of the main job, ``examples/train.py --quick``, run as a user would (a subprocess)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import minigrad

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "train.py"


def _run(*args: str, cwd: Path) -> str:
    done = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--no-progress", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _accuracy(output: str) -> str:
    match = re.search(r"held-out accuracy: ([0-9.]+%)", output)
    assert match, output
    return match.group(1)


def test_train_quick_save_and_resume(tmp_path):
    pytest.importorskip("sklearn")
    checkpoint = tmp_path / "digits.npz"
    first = _run("--save", str(checkpoint), cwd=tmp_path)
    assert checkpoint.exists()
    # Resuming at the saved epoch trains nothing: the reloaded model (BatchNorm running stats included)
    # must score exactly the same.
    again = _run("--save", str(checkpoint), "--resume", cwd=tmp_path)
    assert "resumed from" in again and _accuracy(again) == _accuracy(first)
    # ... and one more epoch continues from there.
    more = _run("--save", str(checkpoint), "--resume", "--epochs", "3", cwd=tmp_path)
    assert "at epoch 2" in more and "after 3 epochs" in more
    assert minigrad.load(checkpoint)["epoch"] == 3


def test_train_quick_composite_batchnorm(tmp_path):
    pytest.importorskip("sklearn")
    out = _run("--no-fused", "--seed", "1", cwd=tmp_path)
    assert "composite BatchNorm" in out
    _accuracy(out)


def test_resume_needs_a_checkpoint_path(tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPT), "--resume"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode != 0 and "--save" in done.stderr


@pytest.mark.parametrize("content", [None, b"not a checkpoint"])
def test_resume_from_a_missing_or_bad_checkpoint_is_a_clear_error(tmp_path, content):
    path = tmp_path / "none.npz"
    if content is not None:
        path.write_bytes(content)
    done = subprocess.run([sys.executable, str(SCRIPT), "--save", str(path), "--resume"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert ("no checkpoint at" if content is None else "cannot read the checkpoint") in done.stderr
