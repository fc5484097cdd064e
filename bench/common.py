"""Shared bench helpers: machine info, timing, memory, figures and the JSON hand-off.

Every bench module measures, builds a list of `Figure`s (value, unit, target,
whether it is met) and, with `--json PATH`, writes them for `bench/run_all.py`,
which turns all of them into `bench/RESULTS.md`. Running a module by hand
prints the same figures as a table, so one number can be re-measured alone.

Why subprocesses per module (run_all): resident-memory figures must not include
what an earlier module allocated, and one crashing module must not lose the rest.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


# ---------------------------------------------------------------- machine


def cpu_model() -> str:
    """The CPU model from /proc/cpuinfo (Linux), else whatever platform knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def mem_total_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return 0.0


def machine_info() -> str:
    """One line naming what the figures were measured on (they mean nothing without it)."""
    import numpy as np

    return (f"{platform.system()} {platform.release()}, {os.cpu_count()} CPUs ({cpu_model()}), "
            f"{mem_total_gib():.1f} GiB RAM; Python {platform.python_version()}, "
            f"numpy {np.__version__}")


def git_commit() -> str:
    """The commit measured, with `+dirty` when the working tree differs from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT,
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--",
                                ".", ":!bench/RESULTS.md", ":!bench/results.json",
                                ":!bench/chart.png"],
                               cwd=ROOT, capture_output=True, text=True, check=True).stdout
        return head + ("+dirty" if dirty.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


# ----------------------------------------------------------------- timing


def best_of(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """(fastest wall time in seconds, last result): the least-disturbed run on a shared box."""
    times: list[float] = []
    result: Any = None
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter_ns()
        result = fn()
        times.append((time.perf_counter_ns() - t0) / 1e9)
    return min(times), result


@dataclass(frozen=True)
class Latency:
    """Per-call latency in nanoseconds from batch samples."""

    median_ns: float
    p99_ns: float
    calls: int
    cpu_median_ns: float = 0.0
    """Median of the same batches in thread CPU time: what the call costs when it is not
    waiting for a core (differs from `median_ns` only on a loaded machine)."""


def per_call_latency(fn: Callable[[Any], Any], inputs: Sequence[Any], batch: int = 100,
                     rounds: int = 1) -> Latency:
    """Median and p99 of per-call time, each sample the mean over `batch` consecutive calls.

    Timing single calls of ~1 µs would mostly measure `perf_counter_ns` itself;
    batches of 100 amortise it while keeping enough samples for a p99.
    """
    samples: list[float] = []
    cpu: list[float] = []
    n = len(inputs)
    clock, cpu_clock = time.perf_counter_ns, time.thread_time_ns
    for _ in range(rounds):
        for start in range(0, n - batch + 1, batch):
            chunk = inputs[start:start + batch]
            c0 = cpu_clock()
            t0 = clock()
            for item in chunk:
                fn(item)
            t1 = clock()
            cpu.append((cpu_clock() - c0) / batch)
            samples.append((t1 - t0) / batch)
    samples.sort()
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    return Latency(statistics.median(samples), p99, len(samples) * batch, statistics.median(cpu))


# ----------------------------------------------------------------- memory


def _status_kib(field_name: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    return 0


def rss_bytes() -> int:
    """Current resident set size (VmRSS) of this process."""
    return _status_kib("VmRSS") * 1024


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far (VmHWM, else ru_maxrss)."""
    return (_status_kib("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def reset_peak_rss() -> bool:
    """Reset VmHWM (Linux >= 4.0, writing 5 to clear_refs) so a step's own peak can be read."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


# ---------------------------------------------------------------- figures


@dataclass
class Figure:
    """One measured number and how it compares with its target (issue 7).

    `better` says which direction wins ("lower" or "higher"); `target` None means
    the figure is reported for information only.
    """

    key: str
    label: str
    value: float
    unit: str
    target: float | None = None
    better: str = "lower"
    command: str = ""
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        return self.value <= self.target if self.better == "lower" else self.value >= self.target

    def verdict(self) -> str:
        """'met', 'MISSED by x%' or '—' (no target)."""
        met = self.met
        if met is None:
            return "—"
        if met:
            return "met"
        assert self.target is not None
        if self.better == "lower":
            return f"MISSED: {self.value / self.target:.2f}× the target"
        return f"MISSED: {self.value / self.target:.0%} of the target"


def fmt_value(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def target_text(fig: Figure) -> str:
    if fig.target is None:
        return "—"
    return ("≤ " if fig.better == "lower" else "≥ ") + fmt_value(fig.target) + " " + fig.unit


def bench_parser(description: str) -> argparse.ArgumentParser:
    """The flags every module shares: `--scale` (BENCH_SCALE) and `--json`."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--scale", type=float, default=float(os.environ.get("BENCH_SCALE", "1")),
                        help="multiply the default sizes (env BENCH_SCALE; 0.1 for a quick run)")
    parser.add_argument("--json", type=Path, default=None,
                        help="write the figures here for bench/run_all.py")
    return parser


def scaled(n: int, scale: float, minimum: int = 1000) -> int:
    return max(minimum, int(n * scale))


def command_line() -> str:
    """How this module was invoked, as a copy-pasteable command (without --json)."""
    args: list[str] = []
    skip = False
    for arg in sys.argv[1:]:
        if skip:
            skip = False
            continue
        if arg == "--json":
            skip = True
            continue
        if arg.startswith("--json="):
            continue
        args.append(arg)
    script = Path(sys.argv[0]).resolve()
    with contextlib.suppress(ValueError):
        script = script.relative_to(ROOT)
    return " ".join([".venv/bin/python", str(script), *args])


def emit(figures: list[Figure], json_path: Path | None, extras: dict[str, Any] | None = None,
         sections: dict[str, str] | None = None) -> None:
    """Print the figures; with `json_path`, also hand them (and notes/sections) to run_all."""
    cmd = command_line()
    for fig in figures:
        fig.command = fig.command or cmd
    width = max((len(f.label) for f in figures), default=10)
    for fig in figures:
        print(f"{fig.label:<{width}}  {fmt_value(fig.value):>12} {fig.unit:<10} "
              f"target {target_text(fig):<18} {fig.verdict()}", flush=True)
    if json_path is not None:
        payload = {"figures": [asdict(f) for f in figures], "extras": extras or {},
                   "sections": sections or {}}
        json_path.write_text(json.dumps(payload, indent=1))


def load_figures(payload: dict[str, Any]) -> list[Figure]:
    return [Figure(**f) for f in payload.get("figures", [])]
