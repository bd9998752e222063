"""Scale-out benchmark: delivery throughput with 1, 2 and 4 deliverer processes on PostgreSQL.

Run by hand: ``.venv/bin/python bench/scale.py [--events 200 --receivers 100 --workers 1,2
--runs 5]``.
Needs ``nginx`` (the cheap receivers of ``bench/push.py``). For each worker count a fresh
database on 127.0.0.1:5432 gets ``--receivers`` subscriptions and a baseline scan; that many
``syndicator run --role deliverer`` processes start and report running; then ``--events``
items appear in one scan (events × receivers deliveries) and the time from that scan until the
store has every delivery settled as delivered is measured (process start-up excluded).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pg_database import throwaway_database  # bench/pg_database.py
from proc import name_and_cpu  # bench/proc.py
from push import _config, _wait, announce, nginx, prepare, wait_delivered

from syndicator.config import with_overrides
from syndicator.store.database import open_engine


def _cpu_by_process() -> dict[int, tuple[str, float]]:
    """Every process's name and CPU seconds so far (/proc), to account for the work of a run
    by what did it: the deliverers, PostgreSQL, nginx and this process (the scan, the polls)."""
    seen: dict[int, tuple[str, float]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            seen[int(stat.parent.name)] = name_and_cpu(stat.parent.name)
        except OSError:
            continue
    return seen


def _cores_used(
    before: dict[int, tuple[str, float]],
    after: dict[int, tuple[str, float]],
    ours: set[int],
    seconds: float,
) -> dict[str, float]:
    """Cores kept busy during the run, by kind of process."""
    used: dict[str, float] = {}
    for pid, (name, cpu) in after.items():
        if pid == os.getpid():
            kind = "bench (scan, polls)"
        elif pid in ours:
            kind = "deliverers"
        elif name in ("postgres", "nginx"):
            kind = name
        else:
            continue
        spent = cpu - before.get(pid, (name, 0.0))[1]
        used[kind] = used.get(kind, 0.0) + spent / seconds
    return used


def run(workers: int, events: int, ports: list[int], root: Path) -> float:
    with throwaway_database() as url:
        return _run(workers, events, ports, root, url)


def _run(workers: int, events: int, ports: list[int], root: Path, url: str) -> float:
    config = with_overrides(_config(root), store={"url": url})
    (root / "syndicator.toml").write_text(
        f'[content]\ndirs = ["{root / "_posts"}"]\n[output]\ndir = "{root / "out"}"\n'
        f'[store]\nurl = "{url}"\n[push]\nallow_private_targets = true\n'
    )
    engine = open_engine(url)
    logs = [root / f"deliverer{n}.log" for n in range(workers)]
    try:
        scanner = prepare(config, engine, ports)
        processes = []
        for log in logs:
            with log.open("w") as sink:
                processes.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "syndicator",
                            "run",
                            "--role",
                            "deliverer",
                            "--config",
                            str(root / "syndicator.toml"),
                        ],
                        stderr=sink,
                        cwd=root,
                    )
                )
        try:
            _wait(lambda: all("worker running" in log.read_text() for log in logs), 60)
            started = time.perf_counter()
            announce(scanner, config, events)
            written, before = time.perf_counter(), _cpu_by_process()
            total = events * len(ports)
            wait_delivered(engine, total, 1800)
            ended, after = time.perf_counter(), _cpu_by_process()
            used = _cores_used(before, after, {p.pid for p in processes}, ended - written)
            print(
                f"  {workers} deliverer process(es): {total / (ended - written):,.0f}/s from the"
                f" scan's end ({total / (ended - started):,.0f}/s from its start); cores busy: "
                + ", ".join(f"{kind} {cores:.2f}" for kind, cores in sorted(used.items()))
                + f"; in all {sum(used.values()):.2f} of {os.cpu_count()}"
            )
            return total / (ended - written)
        finally:
            for process in processes:
                process.send_signal(signal.SIGTERM)
            for process in processes:
                process.wait(timeout=60)
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--receivers", type=int, default=100)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument(
        "--runs",
        type=int,
        default=5,
        help="rounds of every worker count, interleaved; the ratios' median is printed (runs of "
        "one ratio varied by ±15 %% on the shared 2-core machine)",
    )
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    with tempfile.TemporaryDirectory(prefix="syndicator-bench-scale-") as temporary:
        (Path(temporary) / "nginx").mkdir()
        with nginx(args.receivers, Path(temporary) / "nginx") as ports:
            total = args.events * args.receivers
            print(f"{args.events} events × {args.receivers} receivers = {total}, PostgreSQL")
            ratios: dict[int, list[float]] = {count: [] for count in counts[1:]}
            for number in range(args.runs):
                rates = {
                    count: run(count, args.events, ports, Path(temporary) / f"r{number}w{count}")
                    for count in counts
                }
                for count in ratios:
                    ratios[count].append(rates[count] / rates[counts[0]])
                    print(f"  {count} vs {counts[0]}: {ratios[count][-1]:.2f}×")
            for count, seen in ratios.items():
                listed = ", ".join(f"{r:.2f}" for r in sorted(seen))
                print(
                    f"{count} vs {counts[0]}, median of {len(seen)}: "
                    f"{statistics.median(seen):.2f}× ({listed})"
                )
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
