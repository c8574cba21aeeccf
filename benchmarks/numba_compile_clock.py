"""A pytest plugin that reports how long Numba compiled during the test run (docs/performance.md).

    NUMBA_CACHE_DIR=$(mktemp -d) PYTHONPATH=benchmarks pytest -p numba_compile_clock \\
        tests/test_numba_backend.py tests/test_numba_windows.py tests/test_agreement.py -k numba

It listens to Numba's ``numba:compile`` events and adds up the wall time of the top-level ones (a kernel's
compilation, including the helpers compiled inside it), then prints the total, the number of compilations
and the slowest ones. It also adds up the compiling thread's CPU time, which other processes on a busy
machine inflate much less than the wall time. Only compilations in the pytest process count, not those of
subprocesses. With ``NUMBA_COMPILE_LOG=FILE`` every compilation is written to FILE, slowest first.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict

_spent: dict[str, float] = defaultdict(float)
_count = [0]
_cpu = [0.0]


def pytest_configure(config) -> None:
    from numba.core import event

    class TopLevelClock(event.Listener):
        """Wall time of each outermost compile event, keyed by kernel and argument types."""

        depth = 0

        def on_start(self, ev) -> None:
            if self.depth == 0:
                dispatcher = ev.data.get("dispatcher")
                name = getattr(getattr(dispatcher, "py_func", None), "__qualname__", str(dispatcher))
                self.key, self.start = f"{name} {ev.data.get('args')}", time.perf_counter()
                self.cpu_start = time.thread_time()
            self.depth += 1

        def on_end(self, ev) -> None:
            self.depth -= 1
            if self.depth == 0:
                _spent[self.key] += time.perf_counter() - self.start
                _cpu[0] += time.thread_time() - self.cpu_start
                _count[0] += 1

    event.register("numba:compile", TopLevelClock())


def pytest_terminal_summary(terminalreporter) -> None:
    ranked = sorted(_spent.items(), key=lambda kv: -kv[1])
    terminalreporter.write_line(f"Numba compiled for {sum(_spent.values()):.1f} s (wall), {_cpu[0]:.1f} s CPU, in "
                                f"{_count[0]} top-level compilations; slowest:")
    for key, seconds in ranked[:5]:
        terminalreporter.write_line(f"  {seconds:6.2f} s  {key[:110]}")
    log = os.environ.get("NUMBA_COMPILE_LOG")
    if log:
        with open(log, "w") as f:
            f.writelines(f"{seconds:.3f} {key}\n" for key, seconds in ranked)
