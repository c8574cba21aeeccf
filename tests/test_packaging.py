"""The installed package is the source tree: pyproject.toml lists its packages by hand (``minigrad_backends``
lives in ``backends/``), so a new subpackage missing from that list would be left out of a wheel or a
non-editable install while every test of an editable checkout still passed."""

from __future__ import annotations

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _listed_packages() -> set[str]:
    text = (ROOT / "pyproject.toml").read_text()
    block = re.search(r"\[tool\.setuptools\]\s*packages\s*=\s*\[(.*?)\]", text, re.S)
    assert block, "pyproject.toml: no [tool.setuptools] packages list"
    return set(re.findall(r'"([\w.]+)"', block.group(1)))


def _packages_on_disk() -> set[str]:
    found = set()
    for top, name in (("minigrad", "minigrad"), ("backends", "minigrad_backends")):
        for init in (ROOT / top).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT / top).parts
            found.add(".".join((name, *parts)))
    return found


def test_every_package_directory_is_installed():
    listed, on_disk = _listed_packages(), _packages_on_disk()
    assert on_disk - listed == set(), f"packages missing from pyproject.toml: {sorted(on_disk - listed)}"
    assert listed - on_disk == set(), f"pyproject.toml lists packages that do not exist: {sorted(listed - on_disk)}"


def test_packages_hold_only_python_sources():
    """No package data is declared, so a non-Python file inside a package would not be installed."""
    stray = [str(p.relative_to(ROOT)) for top in ("minigrad", "backends") for p in (ROOT / top).rglob("*")
             if p.is_file() and p.suffix != ".py" and "__pycache__" not in p.parts]
    assert stray == []
