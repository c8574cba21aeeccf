"""The Python examples in the README and docs run as written (blocks of one file share a namespace)."""

from __future__ import annotations

import pathlib
import re

import pytest

import minigrad as mg

ROOT = pathlib.Path(__file__).resolve().parent.parent
# Every ```python block of these files runs; excerpts that are not standalone programs are fenced as ```text.
DOCS = ["README.md", "docs/autograd.md", "docs/nn.md", "docs/data.md", "docs/testing.md", "docs/batchnorm.md",
        "docs/linalg.md", "docs/distributions.md"]


def _python_blocks(path: pathlib.Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), re.S)


def _uses_numba(block: str) -> bool:
    """Whether code (not a comment, such as docs/data.md's ``# ... backend="numba"``) names the backend."""
    return any('"numba"' in line.split("#", 1)[0] for line in block.splitlines())


@pytest.mark.parametrize("doc", DOCS)
def test_examples_run(doc: str, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = _python_blocks(ROOT / doc)
    assert blocks, f"{doc} has no python example"
    if any(_uses_numba(b) for b in blocks) and mg.backends.available().get("numba") is not True:
        pytest.skip("an example uses the numba backend, which is not available here")
    monkeypatch.setattr(mg.backends, "_default", None)  # examples may call set_backend
    namespace: dict = {"__name__": "docs_example"}
    for block in blocks:
        exec(compile(block, doc, "exec"), namespace)
