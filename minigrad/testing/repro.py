"""Replay a failing case saved by the agreement suite or by ``assert_backends_agree``.

Usage: ``python -m minigrad.testing.repro repro/<case>.npz`` (exit status 1 while the case still fails).

A reproducer is an ``.npz`` with the input arrays (``input_0``, ...) and a JSON ``__meta__`` record (never
pickle): the entry point that replays it (``"package.module:function"`` or ``"/path/to/file.py:function"``),
its keyword arguments, the inputs' memory layouts and the original failure message. Reading one runs no
code; replaying one calls the entry point it names, so replay only files you trust.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from ._core import read_reproducer


def resolve_entry(entry: str) -> Callable:
    """The function named by ``"package.module:qualname"`` or ``"/path/to/file.py:qualname"``."""
    target, _, qualname = entry.rpartition(":")
    if not target:
        raise ValueError(f"entry {entry!r} must look like 'module:function' or 'file.py:function'")
    if target.endswith(".py"):
        path = Path(target)
        if not path.exists():
            raise FileNotFoundError(f"the reproducer's entry file {path} does not exist (was the checkout moved?)")
        name = path.stem
        module = sys.modules.get(name)
        if module is None or Path(getattr(module, "__file__", "") or "").resolve() != path.resolve():
            sys.path.insert(0, str(path.parent))
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
    else:
        module = importlib.import_module(target)
    obj = module
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def replay(path: str) -> None:
    """Re-run the case saved in ``path``; raises ``AssertionError`` if it still fails."""
    meta, inputs = read_reproducer(path)
    resolve_entry(meta["entry"])(inputs, **meta["arguments"])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m minigrad.testing.repro", description=__doc__.splitlines()[0])
    parser.add_argument("path", help="a .npz reproducer")
    parser.add_argument("--show", action="store_true", help="print the saved case and exit")
    args = parser.parse_args(argv)
    meta, inputs = read_reproducer(args.path)
    print(f"reproducer {args.path}\n  entry: {meta['entry']}")
    for key, value in meta["arguments"].items():
        print(f"  {key}: {value!r}")
    for i, inp in enumerate(inputs):
        if inp.is_tensor:
            print(f"  input {i}: shape {inp.values.shape} {inp.values.dtype}, {inp.layout.describe()}, "
                  f"requires_grad={inp.requires_grad}")
        else:
            print(f"  input {i}: {inp.passthrough!r}")
    print(f"  originally failed with:\n    {meta['message'].splitlines()[0] if meta['message'] else ''}")
    if args.show:
        return 0
    try:
        replay(args.path)
    except AssertionError as exc:
        traceback.print_exc()
        print(f"\nSTILL FAILS: {exc}")
        return 1
    print("\nPASSES: the case no longer fails")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
