"""Portal latency while the site rebuilds: a build in a thread of the serving process (as
before issue 16) against one in a process of its own at a lower priority
(`forms.rebuild.default_build`) and against the rebuild worker's own set-up (the pages by
its kept `BuildProcess`, then the downloads by the export process), in turns, in the
same run.

The server is the form service (build_services + create_app) on a synthetic workload, served
by waitress from threads of this process, as `plansite serve` does. The client is a child
process sending GETs of the login page one after another (10 ms apart) and recording each
latency. Each turn: an idle sample, then a sample for as long as one full build of the
workload runs. The figures that matter are the ratios of p99 during a build to p99 idle.

    python -m bench.rebuild_latency [--units 2000] [--turns 2] [--small]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from waitress import create_server

from bench.measure import header, machine, median, percentile, python_command
from bench.workload import make_workload
from forms.app import create_app
from forms.rebuild import PAGE_CACHE, BuildProcess, default_build, default_exports
from forms.services import build_services
from forms.settings import load_settings

HOST = "127.0.0.1"
PATH = "/forms/login"

# The client: GET PATH until the stop file exists (or `count` requests were sent); print
# the latencies in milliseconds as JSON.
_CLIENT = """
import http.client, json, os, sys, time
port, stop, count, path = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
latencies = []
while len(latencies) < count and not os.path.exists(stop):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    start = time.perf_counter()
    connection.request("GET", path)
    response = connection.getresponse()
    response.read()
    latencies.append((time.perf_counter() - start) * 1000)
    connection.close()
    time.sleep(0.01)
print(json.dumps(latencies))
"""


def in_thread_build(root: Path, site_dir: Path) -> None:
    """The build as the rebuild worker ran it before: in a thread of the server."""
    from builder.build import build_site

    build_site(root, site_dir, cache=site_dir.parent / PAGE_CACHE)


def worker_build(kept: BuildProcess, root: Path, site_dir: Path) -> None:
    """The build as the rebuild worker runs it now: the pages by its kept process, then
    the downloads of the same commit by the export process."""
    kept(root, site_dir)
    downloads = site_dir.parent / "downloads"
    downloads.mkdir()
    default_exports(root, downloads, lambda: False)


def modes(kept: BuildProcess) -> dict[str, Callable[[Path, Path], None]]:
    return {
        "thread": in_thread_build,
        "process": default_build,
        "worker": partial(worker_build, kept),
    }


def sample(port: int, work: Path, during: Callable[[], None] | None, count: int) -> list[float]:
    """Latencies of the client's GETs: `count` of them idle, or as many as fit in `during`."""
    import subprocess

    stop = work / f"stop-{time.monotonic_ns()}"
    most = count if during is None else 10**9
    client = subprocess.Popen(
        python_command("-c", _CLIENT, str(port), str(stop), str(most), PATH),
        stdout=subprocess.PIPE,
        text=True,
    )
    if during is not None:
        time.sleep(0.5)  # the client is up and sending
        try:
            during()
        finally:
            stop.touch()
    output, _ = client.communicate(timeout=3600)
    latencies: list[float] = json.loads(output)
    return latencies


def figures(latencies: list[float]) -> str:
    return (
        f"p50 {percentile(latencies, 0.5):6.1f} ms  p99 {percentile(latencies, 0.99):6.1f} ms"
        f"  ({len(latencies)} requests)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=2000)
    parser.add_argument("--turns", type=int, default=2)
    parser.add_argument("--idle-requests", type=int, default=400)
    parser.add_argument("--small", action="store_true", help="20 units, one turn (smoke test)")
    args = parser.parse_args(argv)
    if args.small:
        args.units, args.turns, args.idle_requests = 20, 1, 50
    header(f"portal latency during a rebuild: {args.units} units, {args.turns} turns")
    print(", ".join(f"{k} {v}" for k, v in machine().items()))
    with tempfile.TemporaryDirectory(prefix="plansite-rebuild-latency-") as folder:
        work = Path(folder)
        workload = make_workload(work / "repo", args.units, git=True)
        settings = load_settings(
            {"ROOT": str(workload.root), "INSTANCE": str(work / "instance"), "AS_OF": ""},
            environ={},
        )
        app = create_app(build_services(settings, rebuild_site=False))
        server = create_server(app, host=HOST, port=0, threads=4)
        port = int(server.effective_port)  # type: ignore[union-attr]
        threading.Thread(target=server.run, daemon=True).start()
        kept = BuildProcess()
        builds = modes(kept)
        ratios: dict[str, list[float]] = {mode: [] for mode in builds}
        try:
            for turn in range(args.turns):
                for mode, build in builds.items():
                    idle = sample(port, work, None, args.idle_requests)
                    target = work / f"sites-{mode}-{turn}" / "site"
                    target.parent.mkdir()
                    started = time.perf_counter()
                    busy = sample(port, work, partial(build, workload.root, target), 0)
                    seconds = time.perf_counter() - started
                    ratio = percentile(busy, 0.99) / percentile(idle, 0.99)
                    ratios[mode].append(ratio)
                    print(f"turn {turn + 1}, build in a {mode:7s} ({seconds:5.1f} s)")
                    print(f"  idle          {figures(idle)}")
                    print(f"  during build  {figures(busy)}  p99 ratio {ratio:.2f}x")
        finally:
            server.close()
            kept.close()
    print()
    for mode, values in ratios.items():
        shown = ", ".join(f"{v:.2f}x" for v in values)
        print(
            f"p99 during a build / idle, build in a {mode}: median {median(values):.2f}x ({shown})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
