"""Commits per second of the form service on a repository that already holds 100,000 reports.

The remote is a bare repository whose main holds the plan (content/, schemas/) and
`--files` report files under data/reports/<form>/<period>/<unit>/, streamed into one pack
by `git fast-import` (no working tree, no index; loose objects would take minutes). Measured
in the same run, each with the same reports and durable writes (fsync) on, as the service
runs:

  service      SubmissionService.submit: checks, fetch of main (at most every 5 s), the
               commit on submit/<unit>/<id>, the outbox row (sqlite, synchronous=FULL);
  repository   forms.repository.commit_on_new_branch alone, on the 100,000-file tree;
  empty        the same on a repository with the plan and no reports (does the cost grow
               with the number of files? it should not: only the trees on the path change);
  git CLI      the plumbing way: hash-object, read-tree into a temporary index,
               update-index, write-tree, commit-tree, update-ref.

    python -m bench.commit [--files 100000] [--commits 200] [--small]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pygit2

from bench.measure import REPO_ROOT, Results, header, percentile
from bench.validation import sample_value
from builder.model import Content, Unit, report_path
from builder.plan import load_content
from builder.reports import document_json
from builder.synthetic import generate_units
from forms import repository
from forms.submissions import GitConfig, SubmissionService

TZ = timezone(timedelta(hours=8))
PLAN_FOLDERS = ("content", "schemas")
BENCH_IDENTITY = repository.Identity("plansite bench", "bench@plansite.invalid")
# Durable like the service (fsync of objects and refs), and no user configuration.
GIT_ENV = {
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "plansite bench",
    "GIT_AUTHOR_EMAIL": "bench@plansite.invalid",
    "GIT_COMMITTER_NAME": "plansite bench",
    "GIT_COMMITTER_EMAIL": "bench@plansite.invalid",
}
GIT_DURABLE = ("-c", "core.fsync=committed", "-c", "core.fsyncMethod=fsync")


def _data_command(data: bytes) -> bytes:
    return b"data %d\n" % len(data) + data + b"\n"


def _plan_files(source: Path) -> Iterator[tuple[str, bytes]]:
    for folder in PLAN_FOLDERS:
        for path in sorted((source / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                yield path.relative_to(source).as_posix(), path.read_bytes()


def _unit(row: Mapping[str, Any]) -> Unit:
    flags = {k: v for k, v in row.items() if isinstance(v, bool)}
    return Unit(row["id"], row["name"], row["type"], flags)


def submission_id(n: int, start: datetime) -> str:
    """`<YYYYMMDDHHMMSS>-<8 hex>`, distinct for every n."""
    return f"{start + timedelta(seconds=n):%Y%m%d%H%M%S}-{n:08x}"


def report(
    content: Content,
    form_id: str,
    period: str,
    unit: str,
    n: int,
    start: datetime,
    rng: random.Random,
) -> dict[str, Any]:
    form = content.form(form_id)
    moment = start + timedelta(seconds=n)
    return {
        "id": submission_id(n, start),
        "form": form_id,
        "period": period,
        "unit": unit,
        "submitted_at": moment.isoformat(),
        "submitted_by": {"account": unit, "name": "bench"},
        "values": {f.name: sample_value(f, rng) for f in form.fields},
        "evidence": [],
    }


def slots(content: Content, seed: int) -> Iterator[tuple[str, str, str]]:
    """(form, period, unit) for every applicable form and period, unit after unit, forever."""
    batch = 1
    while True:
        rows = generate_units(content, 1000 * batch, seed)
        for row in rows[1000 * (batch - 1) :]:
            unit = _unit(row)
            for form in content.forms:
                if form.applies_to.matches(unit):
                    for period in form.periods:
                        yield form.id, period, unit.id
        batch += 1


def build_remote(
    path: Path, content: Content, files: int, seed: int, with_reports: bool = True
) -> tuple[pygit2.Repository, int]:
    """A bare repository with the plan and `files` reports on main; returns (repo, files).

    Written with `git fast-import`, which streams every object into one pack: 100,000
    loose objects (pygit2 create_blob + TreeBuilder) cost ~1.5 ms each on this disk,
    minutes for a setup that fast-import does in seconds. The commits measured afterwards
    are all pygit2 (or the git CLI baseline), on exactly this repository.
    """
    pygit2.init_repository(str(path), bare=True, initial_head="main")
    rng = random.Random(seed)
    start = datetime(2022, 1, 1, 8, 0, tzinfo=TZ)
    chosen: Iterator[tuple[str, str, str]] = (
        iter(zip(range(files), slots(content, seed), strict=False)) if with_reports else iter(())
    )
    count = 0
    importer = subprocess.Popen(
        ["git", "--git-dir", str(path), "fast-import", "--quiet", "--done"],
        stdin=subprocess.PIPE,
        env={**os.environ, **GIT_ENV},
    )
    assert importer.stdin is not None
    stream = importer.stdin
    stream.write(b"commit refs/heads/main\n")
    stream.write(b"committer plansite bench <bench@plansite.invalid> 1666238400 +0800\n")
    stream.write(_data_command(b"Plan and synthetic reports"))
    for name, data in _plan_files(REPO_ROOT):
        stream.write(f"M 100644 inline {name}\n".encode() + _data_command(data))
    for n, (form, period, unit) in chosen:
        document = report(content, form, period, unit, n, start, rng)
        text = document_json(document, sort_keys=True)
        name = report_path(form, period, unit, document["id"])
        stream.write(f"M 100644 inline {name}\n".encode() + _data_command(text.encode()))
        count += 1
    stream.write(b"\ndone\n")
    stream.close()
    if importer.wait() != 0:
        raise RuntimeError("git fast-import failed")
    return pygit2.Repository(str(path)), count


def new_reports(content: Content, count: int, seed: int) -> list[dict[str, Any]]:
    """Reports to submit: new ids for existing units, forms and periods (a correction each)."""
    rng = random.Random(seed + 1)
    start = datetime(2022, 11, 1, 8, 0, tzinfo=TZ)
    chosen = []
    for n, (form, period, unit) in zip(range(count), slots(content, seed), strict=False):
        chosen.append(report(content, form, period, unit, 500_000 + n, start, rng))
    return chosen


def files_of(document: Mapping[str, Any]) -> dict[str, bytes]:
    path = report_path(document["form"], document["period"], document["unit"], document["id"])
    return {path: document_json(document).encode()}


def interleaved(
    actions: dict[str, tuple[Callable[[dict[str, Any]], Any], int]], documents: list[dict[str, Any]]
) -> dict[str, list[float]]:
    """Time every action on every document, taking turns document by document, so that a
    burst of someone else's load on this shared machine hits all of them alike.

    actions: name -> (action, every): the action runs on every `every`-th document only
    (the slow git CLI baseline).
    """
    latencies: dict[str, list[float]] = {name: [] for name in actions}
    for n, document in enumerate(documents):
        for name, (action, every) in actions.items():
            if n % every:
                continue
            start = time.perf_counter()
            action(document)
            latencies[name].append(time.perf_counter() - start)
    return latencies


def pygit2_commit(repo: pygit2.Repository, prefix: str) -> Callable[[dict[str, Any]], None]:
    """commit_on_new_branch of one document on top of main, as the service does it."""
    signature = BENCH_IDENTITY.signature()

    def commit(document: dict[str, Any]) -> None:
        main = repository.resolve(repo, "main")
        assert main is not None
        branch = f"{prefix}/{document['unit']}/{document['id']}"
        repository.commit_on_new_branch(
            repo, branch, main, files_of(document), f"Submit {document['id']}", signature, signature
        )

    return commit


def cli_commit(repo_path: Path, work: Path) -> Callable[[dict[str, Any]], None]:
    env = {**os.environ, **GIT_ENV}

    def git(*args: str, stdin: bytes | None = None, **extra: str) -> str:
        done = subprocess.run(
            ["git", *GIT_DURABLE, "--git-dir", str(repo_path), *args],
            input=stdin,
            env={**env, **extra},
            check=True,
            capture_output=True,
        )
        return done.stdout.decode().strip()

    def commit(document: dict[str, Any]) -> None:
        ((path, data),) = files_of(document).items()
        index = str(work / "index")
        blob = git("hash-object", "-w", "--stdin", stdin=data)
        git("read-tree", "main", GIT_INDEX_FILE=index)
        git("update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", GIT_INDEX_FILE=index)
        tree = git("write-tree", GIT_INDEX_FILE=index)
        parent = git("rev-parse", "main")
        oid = git("commit-tree", tree, "-p", parent, "-m", f"Submit {document['id']}")
        git("update-ref", f"refs/heads/cli/{document['unit']}/{document['id']}", oid, "")

    return commit


def summarise(results: Results, key: str, title: str, latencies: list[float]) -> float:
    rate = len(latencies) / sum(latencies)
    results.figure(
        f"{key}_per_s",
        rate,
        f"{title}: {rate:.0f} commits/s, p50 {percentile(latencies, 0.5) * 1000:.1f}"
        f" ms, p95 {percentile(latencies, 0.95) * 1000:.1f} ms",
    )
    results.figures[f"{key}_p50_ms"] = percentile(latencies, 0.5) * 1000
    results.figures[f"{key}_p95_ms"] = percentile(latencies, 0.95) * 1000
    return rate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--commits", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--small", action="store_true", help="2,000 files, 10 commits")
    args = parser.parse_args(argv)
    if args.small:
        args.files, args.commits = 2000, 10

    header(f"commit: {args.commits} submissions on a repository of {args.files} reports")
    results = Results("commit", args.small)
    content = load_content(REPO_ROOT)
    with tempfile.TemporaryDirectory(prefix="plansite-commit-", dir=args.workdir) as temp:
        work = Path(temp)
        start = time.perf_counter()
        remote, count = build_remote(work / "remote.git", content, args.files, args.seed)
        results.figure(
            "setup_s",
            time.perf_counter() - start,
            f"remote with {count} report files built (git fast-import) in "
            f"{time.perf_counter() - start:.1f} s",
        )
        results.figures["files"] = count
        documents = new_reports(content, args.commits + 1, args.seed)
        warmup, documents = documents[0], documents[1:]

        config = GitConfig(
            instance_dir=work / "instance",
            service_repo=work / "service.git",
            remote=str(work / "remote.git"),
            committer=BENCH_IDENTITY,
        )
        (work / "instance").mkdir()
        service = SubmissionService(config)  # turns durable (fsync) writes on, process-wide
        # The first submit fetches the 100,000-file main into the service's repository.
        first = time.perf_counter()
        service.submit(warmup, [], "bench", "bench@plansite.invalid")
        results.figure(
            "first_submit_s",
            time.perf_counter() - first,
            f"first submission (fetches main): {time.perf_counter() - first:.1f} s",
        )
        repository.enable_durable_writes()
        empty, _ = build_remote(work / "empty.git", content, 0, args.seed, with_reports=False)
        latencies = interleaved(
            {
                "service": (lambda d: service.submit(d, [], "bench", "bench@plansite.invalid"), 1),
                "repository": (pygit2_commit(remote, "bench"), 1),
                "empty": (pygit2_commit(empty, "bench"), 1),
                # The slow way: a quarter of the documents (at least a few).
                "cli": (cli_commit(work / "remote.git", work), max(1, min(4, len(documents) // 5))),
            },
            documents,
        )
        service_rate = summarise(
            results, "service", "SubmissionService.submit", latencies["service"]
        )
        repo_rate = summarise(
            results, "repository", f"commit_on_new_branch, {count} files", latencies["repository"]
        )
        empty_rate = summarise(
            results, "empty", "commit_on_new_branch, no reports", latencies["empty"]
        )
        cli_rate = summarise(results, "cli", f"git CLI plumbing, {count} files", latencies["cli"])
        print("-- ratios")
        results.ratio(
            "service_vs_repository",
            service_rate,
            repo_rate,
            "service commits/s / bare commit_on_new_branch commits/s",
        )
        results.ratio(
            "repository_vs_empty",
            repo_rate,
            empty_rate,
            f"commit_on_new_branch commits/s with {count} files / with none",
        )
        results.ratio(
            "service_vs_cli", service_rate, cli_rate, "service commits/s / git CLI commits/s"
        )
    print(f"  saved {results.save()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
