"""Measuring helpers shared by the benchmark scripts: clocks, child-process peak memory,
machine description, and the ratio/figure lines every script prints.

Machines are shared and noisy, so every script measures its own baseline in the same run
and reports ratios first; absolute figures are printed next to them for the record.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = REPO_ROOT / "bench" / "out"


def machine() -> dict[str, str]:
    """What the figures were measured on (for bench/README.md)."""
    memory = ""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            first = handle.readline().split()
        memory = f"{int(first[1]) / 1024 / 1024:.1f} GiB"
    except (OSError, IndexError, ValueError):
        pass
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            cpu = next(
                (line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")),
                cpu,
            )
    except OSError:
        pass
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": str(os.cpu_count() or 0),
        "memory": memory,
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def seconds(action: Callable[[], Any]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def repeat(action: Callable[[], Any], times: int) -> list[float]:
    return [seconds(action) for _ in range(times)]


def repeat_cpu(action: Callable[[], Any], times: int) -> list[float]:
    """CPU seconds of this process for each of `times` runs of the action."""
    results = []
    for _ in range(times):
        start = time.process_time()
        action()
        results.append(time.process_time() - start)
    return results


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile (share in 0..1) of a non-empty sample."""
    ordered = sorted(values)
    rank = max(1, round(share * len(ordered) + 0.4999))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass(frozen=True)
class ChildRun:
    """One measured child process: wall time, CPU time (user + system, the child and its
    waited-for children), peak resident memory, exit code, output.

    CPU time is the steadier figure on a shared machine: other people's load stretches
    the wall clock but not the work done."""

    seconds: float
    cpu_seconds: float
    peak_mb: float
    returncode: int
    output: str


def run_child(
    command: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
) -> ChildRun:
    """Run a command and measure it with wait4: the rusage of exactly this child (and the
    grandchildren it waited for), so an earlier, larger child cannot mask the figure the way
    a cumulative RUSAGE_CHILDREN maximum would."""
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace") as log:
        start = time.perf_counter()
        process = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        output = log.read()
    run = ChildRun(
        elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, process.returncode, output
    )
    if check and run.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {run.returncode}:\n{output[-4000:]}")
    return run


def python_command(*args: str) -> list[str]:
    """A command running this interpreter (the project's venv) with unbuffered output."""
    return [sys.executable, "-u", *args]


@dataclass
class Results:
    """The figures of one benchmark run, printed as lines and saved as JSON in bench/out/."""

    name: str
    small: bool
    figures: dict[str, Any] = field(default_factory=dict)

    def figure(self, key: str, value: Any, text: str) -> None:
        self.figures[key] = value
        print(f"  {text}", flush=True)

    def ratio(self, key: str, value: float, baseline: float, text: str) -> float:
        result = value / baseline if baseline else float("inf")
        self.figures[key] = result
        print(f"  {text}: {result:.2f}x", flush=True)
        return result

    def target(self, key: str, met: bool, text: str) -> None:
        self.figures[key] = met
        print(f"  target {'met' if met else 'MISSED'}: {text}", flush=True)

    def save(self) -> Path:
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        suffix = "-small" if self.small else ""
        path = OUT_DIR / f"{self.name}{suffix}.json"
        document = {
            "benchmark": self.name,
            "small": self.small,
            "machine": machine(),
            "figures": self.figures,
        }
        path.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        return path


def header(title: str) -> None:
    info = machine()
    print(f"== {title}", flush=True)
    print(
        f"   {info['date']}, {info['nproc']} cores, {info['memory']}, "
        f"Python {info['python']}, {info['cpu']}",
        flush=True,
    )


def median(values: Sequence[float]) -> float:
    return statistics.median(values)
