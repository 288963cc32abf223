"""Submission latency and throughput of the form service under gunicorn, 1/4/16 clients.

The service runs as in production (gunicorn, several sync workers, 127.0.0.1 on a free
port) over a synthetic plan repository committed to git. Each client logs in as the
reporter of its own unit and, in a loop, does what a browser does to submit a report:

  POST the fill page with the values  -> 302 to the check page   ("fill")
  GET  the check page (fresh CSRF token)
  POST the check page                 -> validation + git commit  ("submit")
  GET  the confirmation page

Latency percentiles are of the "submit" POST; throughput is complete cycles per second.
Baseline in the same run: the same four requests with the same bodies against a minimal
Flask route behind the same gunicorn (bench/baseline_app.py). Clients are closed-loop (no
think time), so by Little's law latency ~ clients / throughput once the server is busy.

    python -m bench.service [--clients 1 4 16] [--cycles 320] [--workers 4] [--small]
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.measure import REPO_ROOT, Results, header, percentile
from bench.validation import as_posted, sample_records, within_checks
from bench.workload import make_workload
from builder.model import Content, Form, Unit
from builder.plan import load_content
from forms.accounts import AccountStore

HOST = "127.0.0.1"  # never anything else
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
SUBMISSION = re.compile(r"/forms/submissions/([A-Za-z0-9_-]+)")
PASSWORD = "bench-" + "x" * 16


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # gunicorn's graceful shutdown
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def cpu_seconds(self) -> float:
        """CPU time (user + system) of the gunicorn master and its workers so far."""
        return process_tree_cpu(self.process.pid)


def process_tree_cpu(root: int) -> float:
    """CPU seconds of process `root` and its direct children (Linux /proc; 0 elsewhere)."""
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total = 0
    for entry in Path("/proc").iterdir() if Path("/proc/self/stat").exists() else ():
        if not entry.name.isdigit():
            continue
        try:
            # The command may hold spaces and parentheses: the fields follow the last ")".
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        pid, ppid = int(entry.name), int(fields[1])
        if pid == root or ppid == root:
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


@dataclass(frozen=True)
class ServerSetup:
    """How gunicorn runs: the same for the service and the baseline."""

    workers: int
    worker_class: str = "sync"
    threads: int = 1

    def describe(self) -> str:
        if self.worker_class == "gthread":
            return f"gunicorn gthread {self.workers} workers x {self.threads} threads"
        return f"gunicorn {self.worker_class} x{self.workers}"


def start_gunicorn(app: str, setup: ServerSetup, env: dict[str, str], log: Path) -> Server:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        str(setup.workers),
        "--worker-class",
        setup.worker_class,
        "--threads",
        str(setup.threads),
        "--bind",
        f"{HOST}:{port}",
        "--chdir",
        str(REPO_ROOT),
        "--timeout",
        "120",
        "--log-level",
        "warning",
        app,
    ]
    with log.open("ab") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=output)
    server = Server(process, port)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited {process.returncode}: {log.read_text()[-3000:]}")
        try:
            with socket.create_connection((HOST, port), timeout=1):
                return server
        except OSError:
            time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"gunicorn did not start on port {port}")


class Client:
    """One browser: a keep-alive connection where the server allows it, one cookie jar."""

    def __init__(self, port: int):
        self.port = port
        self.connection = http.client.HTTPConnection(HOST, port, timeout=120)
        self.cookies: dict[str, str] = {}

    def request(
        self, method: str, path: str, body: dict[str, str] | None = None
    ) -> tuple[int, str, str]:
        headers = {"Host": f"{HOST}:{self.port}"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        data = None
        if body is not None:
            data = urllib.parse.urlencode(body).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in range(2):
            try:
                self.connection.request(method, path, body=data, headers=headers)
                response = self.connection.getresponse()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # gunicorn's sync workers close every connection; reconnect once.
                self.connection.close()
                if attempt:
                    raise
        text = response.read().decode("utf-8", "replace")
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                cookie = value.split(";", 1)[0]
                key, _, content = cookie.partition("=")
                self.cookies[key.strip()] = content
        if response.getheader("Connection", "").lower() == "close":
            self.connection.close()
        return response.status, response.getheader("Location", ""), text

    def token(self, path: str) -> str:
        status, _, text = self.request("GET", path)
        match = TOKEN.search(text)
        if status != 200 or match is None:
            raise RuntimeError(f"GET {path}: {status}, no CSRF token")
        return match.group(1)


@dataclass
class Cycle:
    """What one client needs to submit: where, and the values (as an HTML form posts them)."""

    fill: str
    check: str
    values: list[dict[str, str]]


@dataclass
class Timings:
    submit: list[float] = field(default_factory=list)
    fill: list[float] = field(default_factory=list)
    cycles: int = 0
    errors: list[str] = field(default_factory=list)
    server_cpu: float = 0.0  # CPU seconds of gunicorn (master and workers) in the run
    client_cpu: float = 0.0  # CPU seconds of this process (the clients) in the run
    lock: threading.Lock = field(default_factory=threading.Lock)


def service_cycle(client: Client, cycle: Cycle, n: int, timings: Timings) -> None:
    token = client.cookies.get("_bench_token") or client.token(cycle.fill)
    client.cookies.pop("_bench_token", None)
    body = {"csrf_token": token, "action": "continue", **cycle.values[n % len(cycle.values)]}
    start = time.perf_counter()
    status, location, _ = client.request("POST", cycle.fill, body)
    fill = time.perf_counter() - start
    if status != 302 or not location.endswith("/check"):
        raise RuntimeError(f"fill: {status} {location}")
    token = client.token(cycle.check)
    start = time.perf_counter()
    # The explanation is read only when a figure needs one (the plan's history checks).
    # A second submission for a slot is a correction, which names its reason.
    body = {
        "csrf_token": token,
        "explanation": "按实际情况填报。",
        "correction_reason": "更正数据。",
    }
    status, location, _ = client.request("POST", cycle.check, body)
    submit = time.perf_counter() - start
    if status != 302 or not SUBMISSION.search(location):
        raise RuntimeError(f"submit: {status} {location}")
    status, _, text = client.request("GET", urllib.parse.urlparse(location).path)
    if status != 200:
        raise RuntimeError(f"confirmation: {status}")
    match = TOKEN.search(text)
    if match:  # the confirmation page's token serves the next fill post, as in a browser
        client.cookies["_bench_token"] = match.group(1)
    with timings.lock:
        timings.fill.append(fill)
        timings.submit.append(submit)
        timings.cycles += 1


def baseline_cycle(client: Client, cycle: Cycle, n: int, timings: Timings) -> None:
    body = {"csrf_token": "baseline", "action": "continue", **cycle.values[n % len(cycle.values)]}
    start = time.perf_counter()
    client.request("POST", "/echo", body)
    fill = time.perf_counter() - start
    client.request("GET", "/echo")
    start = time.perf_counter()
    status, _, _ = client.request("POST", "/echo", {"csrf_token": "baseline"})
    submit = time.perf_counter() - start
    if status != 200:
        raise RuntimeError(f"baseline: {status}")
    client.request("GET", "/echo")
    with timings.lock:
        timings.fill.append(fill)
        timings.submit.append(submit)
        timings.cycles += 1


def run_clients(
    clients: list[Client],
    cycles: list[Cycle],
    per_client: int,
    step: Callable[[Client, Cycle, int, Timings], None],
    server: Server | None = None,
) -> tuple[Timings, float]:
    timings = Timings()

    def loop(client: Client, cycle: Cycle) -> None:
        try:
            for n in range(per_client):
                step(client, cycle, n, timings)
        except Exception as error:  # any failure: reported, and fails the run below
            with timings.lock:
                timings.errors.append(repr(error))

    threads = [
        threading.Thread(target=loop, args=pair) for pair in zip(clients, cycles, strict=True)
    ]
    start = time.perf_counter()
    server_cpu, client_cpu = server.cpu_seconds() if server else 0.0, time.process_time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    timings.client_cpu = time.process_time() - client_cpu
    timings.server_cpu = server.cpu_seconds() - server_cpu if server else 0.0
    if timings.errors:
        raise RuntimeError(f"{len(timings.errors)} clients failed: {timings.errors[:3]}")
    return timings, elapsed


def reporters(content: Content, count: int) -> list[tuple[Unit, Form]]:
    """`count` units, each with a form that applies to it (the first such form)."""
    chosen = []
    for unit in content.units:
        form = next((f for f in content.forms if f.applies_to.matches(unit)), None)
        if form is not None:
            chosen.append((unit, form))
        if len(chosen) == count:
            return chosen
    raise SystemExit(f"the plan has fewer than {count} units with a form")


def login(port: int, unit: Unit) -> Client:
    client = Client(port)
    token = client.token("/forms/login")
    status, _, _ = client.request(
        "POST", "/forms/login", {"csrf_token": token, "name": unit.id, "password": PASSWORD}
    )
    if status != 302:
        raise RuntimeError(f"login as {unit.id}: {status}")
    return client


def report(results: Results, key: str, title: str, timings: Timings, elapsed: float) -> float:
    rate = timings.cycles / elapsed
    submit = timings.submit
    results.figures[key] = {
        "cycles": timings.cycles,
        "seconds": elapsed,
        "cycles_per_s": rate,
        "submit_p50_ms": percentile(submit, 0.5) * 1000,
        "submit_p95_ms": percentile(submit, 0.95) * 1000,
        "submit_p99_ms": percentile(submit, 0.99) * 1000,
        "fill_p50_ms": percentile(timings.fill, 0.5) * 1000,
        "server_cpu_ms_per_cycle": timings.server_cpu / timings.cycles * 1000,
        "client_cpu_ms_per_cycle": timings.client_cpu / timings.cycles * 1000,
    }
    figures = results.figures[key]
    print(
        f"  {title}: {rate:.1f} cycles/s; submit p50 {figures['submit_p50_ms']:.0f} ms, "
        f"p95 {figures['submit_p95_ms']:.0f} ms, p99 {figures['submit_p99_ms']:.0f} ms; "
        f"fill p50 {figures['fill_p50_ms']:.0f} ms; CPU per cycle: server "
        f"{figures['server_cpu_ms_per_cycle']:.1f} ms, clients "
        f"{figures['client_cpu_ms_per_cycle']:.1f} ms",
        flush=True,
    )
    return rate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    # 320 submissions a level: a p99 of 32 samples (the old default) was their maximum.
    parser.add_argument(
        "--cycles",
        type=int,
        default=320,
        help="submissions per client at 1 client; fewer per client above, so "
        "every level submits about the same bounded total",
    )
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--worker-class", choices=("sync", "gthread"), default="sync")
    parser.add_argument("--threads", type=int, default=1, help="per worker (gthread)")
    parser.add_argument("--units", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--small", action="store_true", help="1 and 2 clients, 3 cycles")
    args = parser.parse_args(argv)
    if args.small:
        args.clients, args.cycles, args.workers, args.units = [1, 2], 3, 2, 10

    setup = ServerSetup(args.workers, args.worker_class, args.threads)
    header(f"service: {setup.describe()}, {', '.join(map(str, args.clients))} clients")
    results = Results("service", args.small)
    with tempfile.TemporaryDirectory(prefix="plansite-service-", dir=args.workdir) as temp:
        work = Path(temp)
        workload = make_workload(
            work / "repo", max(args.units, max(args.clients)), args.seed, git=True
        )
        content = load_content(workload.root)
        pairs = reporters(content, max(args.clients))
        accounts = AccountStore(work / "instance" / "accounts.sqlite")
        for unit, _ in pairs:
            accounts.add(unit.id, "reporter", PASSWORD, unit=unit.id, display_name=unit.id)
        cycles = []
        for unit, form in pairs:
            base = f"/forms/units/{unit.id}/{form.id}/{form.periods[0]}/"
            values = [
                {k: as_posted(v) for k, v in within_checks(form, record, [unit]).items()}
                for record in sample_records(form, 20, args.seed)
            ]
            cycles.append(Cycle(base, base + "check", values))
        env = {
            **os.environ,
            "PLANSITE_ROOT": str(workload.root),
            "PLANSITE_INSTANCE": str(work / "instance"),
            "PLANSITE_SECRET_KEY": secrets.token_hex(32),
            "PLANSITE_AS_OF": "",
            # Each client submits as one unit, far past a unit's hourly quota.
            "PLANSITE_SUBMISSIONS_PER_HOUR": "100000000",
            "PYTHONUNBUFFERED": "1",
        }
        log = work / "gunicorn.log"
        rates: dict[tuple[str, int], float] = {}
        for name, app, step in (
            ("service", "forms.wsgi:app", service_cycle),
            ("baseline", "bench.baseline_app:app", baseline_cycle),
        ):
            print(f"-- {name} ({app})")
            server = start_gunicorn(app, setup, env, log)
            try:
                if name == "service":
                    clients = [login(server.port, unit) for unit, _ in pairs]
                else:
                    clients = [Client(server.port) for _ in pairs]
                # One untimed cycle per client warms every worker and code path.
                run_clients(clients, cycles, 1, step)
                for count in args.clients:
                    per_client = max(2, args.cycles // count)
                    timings, elapsed = run_clients(
                        clients[:count], cycles[:count], per_client, step, server
                    )
                    rates[(name, count)] = report(
                        results, f"{name}_{count}", f"{count:>2} clients", timings, elapsed
                    )
            finally:
                server.stop()
        print("-- ratios and targets")
        for count in args.clients:
            results.ratio(
                f"throughput_ratio_{count}",
                rates[("service", count)],
                rates[("baseline", count)],
                f"service / baseline throughput at {count} clients",
            )
        top = max(args.clients)
        p99 = results.figures[f"service_{top}"]["submit_p99_ms"]
        results.target("target_p99", p99 < 50, f"submit p99 at {top} clients {p99:.0f} ms < 50 ms")
        ratio = results.figures[f"throughput_ratio_{top}"]
        results.target(
            "target_throughput",
            ratio >= 0.5,
            f"throughput at {top} clients {ratio:.2f}x the baseline >= 0.5x",
        )
        problems = [
            line
            for line in log.read_text(encoding="utf-8", errors="replace").splitlines()
            if "Traceback" in line or "ERROR" in line
        ]
        results.figure("server_errors", len(problems), f"server log errors: {len(problems)}")
    print(f"  saved {results.save()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
