"""Edit-to-feed latency of ``syndicator run`` on synthetic sites (run by hand, not by pytest).

    .venv/bin/python bench/watch.py                          # 10k documents
    .venv/bin/python bench/watch.py --sizes 10000,100000 --profile

For each size: documents are generated with ``bench/build.py``'s generator (1–2 categories
out of 10, 2–4 tags out of 200, about 2 KB of markdown, dates over 10 years) in a temporary
folder (or ``--workdir``, e.g. ``bench/out``), never in the repository. Then:

1. a cold ``syndicator build --config F`` fills the store and the output folder (timed);
2. in this process, a fresh pipeline scans the filled store once (the cold first scan,
   which renders every page in memory), then scans with no change ``--rescans`` times: the
   warm no-change rescan a running worker does on every tick (median reported);
3. ``syndicator run --config F`` starts as a subprocess (watch on, a long periodic interval);
   once it prints "worker running", ``--edits`` edits are made, one at a time, each to a
   random published document (its body changes, its categories and tags do not). The latency
   of an edit runs from the moment the file is closed to the moment the last feed file that
   holds the document has been replaced: every page (current or RFC 5005 archive) of the site,
   of each of its categories and of each of its tags, in every format, found by polling their
   inode/mtime every ``--poll`` seconds. The next edit waits until the worker has logged the
   end of the scan, and a short pause. Files the scan replaced outside that set are counted
   (there should be none);
4. the worker's peak RSS (``VmHWM`` of its process) is read, and it is stopped with SIGTERM.

Ctrl-C during the edits stops them and reports those measured so far. At 100k documents a
cold build, the in-process scans and each edit take minutes on 2 cores: ``--edits 10
--rescans 2`` keeps a run within about 20 minutes.

Targets (2-core reference machine): edit latency p50 ≤ 100 ms at 10k and ≤ 300 ms at 100k
documents; a no-change rescan of 10k documents ≤ 200 ms. ``--profile`` prints where a warm
no-change rescan and a one-edit rescan spend their time (cProfile, in process). The machine's
load average is printed with the figures: the numbers mean little without it.
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import gc
import importlib.util
import io
import math
import os
import pstats
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from syndicator.announce.announcer import announcing_pipeline
from syndicator.config import load_config
from syndicator.feeds.paging import archive_count, oldest_first_slice, page_path
from syndicator.store.database import open_engine

ROOT = Path(__file__).resolve().parents[1]
SYNDICATOR = Path(sys.executable).with_name("syndicator")
BASE_URL = "https://bench.example.org"
SCAN_LINE = re.compile(r"scan: (\d+) documents, (\d+) parsed, (\d+) events, (\d+) files written")


def _load_generator():
    """``bench/build.py`` (another bench, not a package): its synthetic-site generator."""
    path = Path(__file__).resolve().with_name("build.py")
    spec = importlib.util.spec_from_file_location("bench_build", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load the document generator from {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


GENERATOR = _load_generator()


@dataclass
class SizeResult:
    size: int
    generate_s: float = 0.0
    build_s: float = 0.0
    build_max_rss_mib: float = 0.0
    cold_scan_s: float = 0.0
    rescans_s: list[float] = field(default_factory=list)
    ready_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    scan_done_ms: list[float] = field(default_factory=list)
    files_per_edit: list[int] = field(default_factory=list)
    timeouts: int = 0
    extra_files: list[str] = field(default_factory=list)
    worker_hwm_mib: float = 0.0
    worker_rss_mib: float = 0.0
    load_before: str = ""
    load_after: str = ""


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def wall_now() -> datetime:
    """The worker's clock (``syndicator.worker.service.system_clock``)."""
    return datetime.now(UTC).replace(microsecond=0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_env() -> dict[str, str]:
    """This environment without ``SYNDICATOR_*`` overrides, so the config file rules."""
    return {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATOR_")}


def write_config(work: Path, content: Path, output: Path) -> Path:
    config = work / "bench.toml"
    config.write_text(
        "\n".join(
            [
                "[site]",
                f'base_url = "{BASE_URL}"',
                "[content]",
                f'dirs = ["{content}"]',
                "[output]",
                f'dir = "{output}"',
                "[schedule]",
                "watch = true",
                "scan_interval_seconds = 86400",
                "[store]",
                f'url = "sqlite:///{work / "store" / "syndicator.db"}"',
                "[server]",
                'host = "127.0.0.1"',
                f"port = {free_port()}",
                "",
            ]
        ),
        encoding="utf-8",
    )
    return config


def cold_build(config: Path, work: Path, timeout: float) -> tuple[float, float]:
    """``syndicator build`` in a fresh process: (seconds, max RSS MiB of it or a child)."""
    command = [str(SYNDICATOR), "build", "--config", str(config)]
    errors = work / "build.stderr"
    started = time.perf_counter()
    with errors.open("wb") as sink:
        child = subprocess.Popen(
            command, cwd=work, env=clean_env(), stdout=subprocess.DEVNULL, stderr=sink
        )
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() - started > timeout:
            child.kill()
            child.wait()
            raise SystemExit(f"cold build took more than {timeout:.0f} s; stopped")
        time.sleep(0.02)
    seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        sys.stderr.write(errors.read_text(errors="replace")[-2000:])
        raise SystemExit(f"cold build failed: exit {child.returncode}")
    return seconds, usage.ru_maxrss / 1024


def profile_top(profiler: cProfile.Profile, title: str, limit: int) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.strip_dirs()
    for order in ("tottime", "cumulative"):
        out.write(f"\n--- {title}: top {limit} by {order} ---\n")
        stats.sort_stats(order).print_stats(limit)
    return out.getvalue()


def edit_document(path: Path, number: int, rng: random.Random, originals: dict[Path, str]) -> None:
    """Change the body of ``path`` (front matter untouched); the file is closed on return."""
    original = originals.setdefault(path, path.read_text(encoding="utf-8"))
    words = rng.choices(GENERATOR.WORDS, k=rng.randint(8, 18))
    revision = f"\nRévision {number} : {' '.join(words).capitalize()}.\n"
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(original + revision)


def in_process(config_path: Path, result: SizeResult, args, content: Path):
    """Cold first scan and warm no-change rescans; returns (key → affected paths, keys)."""
    config = load_config(config_path, environ={})
    engine = open_engine(config.store.url)
    try:
        scanner = announcing_pipeline(config, engine)
        started = time.perf_counter()
        scanner.scan(wall_now())
        result.cold_scan_s = time.perf_counter() - started
        scan = None
        for _ in range(args.rescans):
            started = time.perf_counter()
            scan = scanner.scan(wall_now())
            result.rescans_s.append(time.perf_counter() - started)
        assert scan is not None
        if scan.report.written:
            print(f"  warning: a no-change rescan wrote {len(scan.report.written)} files")
        catalog = scan.catalog
        # Every page (current or archive) holding each entry, in every format.
        affected: dict[str, list[str]] = collections.defaultdict(list)
        size_of = config.feeds.max_items
        for feed in catalog.feeds:
            order = catalog.order(feed.path)
            for number in (None, *range(1, archive_count(feed.size, size_of) + 1)):
                paths = [page_path(feed.path, number, fmt) for fmt in config.feeds.formats]
                for _, key in order[oldest_first_slice(feed.size, number, size_of)]:
                    affected[key].extend(paths)
        keys = sorted(catalog.entries)
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            scanner.scan(wall_now())
            profiler.disable()
            print(profile_top(profiler, f"{result.size} docs, warm no-change rescan", 25))
            key = random.Random(args.seed + 1).choice(keys)
            edit_document(key_path(content, key), 0, random.Random(0), {})
            profiler = cProfile.Profile()
            profiler.enable()
            started = time.perf_counter()
            edited = scanner.scan(wall_now())
            seconds = time.perf_counter() - started
            profiler.disable()
            print(
                f"  (in-process scan after one edit: {seconds * 1000:.0f} ms, "
                f"{len(edited.report.written)} files written, {edited.parsed} parsed)"
            )
            print(profile_top(profiler, f"{result.size} docs, rescan after one edit", 25))
        del scanner, scan, catalog
    finally:
        engine.dispose()
    gc.collect()
    return affected, keys


def key_path(content: Path, key: str) -> Path:
    """A store key is ``<content folder name>/<path below it>``."""
    return content / key.split("/", 1)[1]


class Worker:
    """``syndicator run`` as a subprocess, its stderr drained and watched in a thread."""

    def __init__(self, config: Path, work: Path) -> None:
        self.ready = threading.Event()
        self.lines: collections.deque[str] = collections.deque(maxlen=200)
        self.scans: list[tuple[float, int]] = []  # (perf_counter when logged, files written)
        self.failures = 0
        self._lock = threading.Lock()
        self.process = subprocess.Popen(
            [str(SYNDICATOR), "run", "--config", str(config)],
            cwd=work,
            env=clean_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            start_new_session=True,  # Ctrl-C stops the edits; the worker gets SIGTERM
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            seen = time.perf_counter()
            self.lines.append(line.rstrip())
            if "worker running" in line:
                self.ready.set()
            elif "scan failed" in line:
                self.failures += 1
            elif match := SCAN_LINE.search(line):
                with self._lock:
                    self.scans.append((seen, int(match.group(4))))

    def scans_after(self, index: int) -> list[tuple[float, int]]:
        with self._lock:
            return self.scans[index:]

    def memory_mib(self) -> tuple[float, float]:
        """(VmHWM, VmRSS) of the worker process, in MiB."""
        values = {}
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            name, _, rest = line.partition(":")
            if name in {"VmHWM", "VmRSS"}:
                values[name] = int(rest.split()[0]) / 1024
        return values.get("VmHWM", 0.0), values.get("VmRSS", 0.0)

    def stop(self, timeout: float = 60) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                print("  warning: the worker ignored SIGTERM; killed")
                self.process.kill()
                self.process.wait()
        self._reader.join(5)

    def tail(self) -> str:
        return "\n".join(list(self.lines)[-20:])


def signature(path: Path) -> tuple[int, int, int] | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


def changed_since(output: Path, wall_ns: int) -> set[str]:
    """Relative paths of the output files modified after ``wall_ns`` (manifest excluded)."""
    found = set()
    for folder, _, files in os.walk(output):
        for name in files:
            if name.startswith("."):
                continue
            path = os.path.join(folder, name)
            try:
                if os.stat(path).st_mtime_ns >= wall_ns:
                    found.add(os.path.relpath(path, output))
            except FileNotFoundError:
                continue
    return found


def run_edits(worker: Worker, content, output, affected, keys, result, args) -> None:
    rng = random.Random(args.seed)
    originals: dict[Path, str] = {}
    for number in range(1, args.edits + 1):
        key = rng.choice(keys)
        expected = [output / p for p in dict.fromkeys(affected[key])]
        before = {p: signature(p) for p in expected}
        scans_seen = len(worker.scans_after(0))
        wall_ns = time.time_ns()
        edit_document(key_path(content, key), number, rng, originals)
        written = time.perf_counter()
        pending = set(expected)
        landed = written
        deadline = written + args.edit_timeout
        while pending:
            now = time.perf_counter()
            for path in [p for p in pending if signature(p) != before[p]]:
                pending.discard(path)
                landed = now
            if not pending or now > deadline:
                break
            time.sleep(args.poll)
        # Wait for the worker to log the end of this scan, so the next edit starts clean.
        scans: list[tuple[float, int]] = []
        while time.perf_counter() < deadline and worker.process.poll() is None:
            scans = worker.scans_after(scans_seen)
            if scans:
                break
            time.sleep(0.005)
        if pending:
            result.timeouts += 1
            print(f"  edit {number}: {len(pending)} of {len(expected)} files never changed")
            continue
        result.latencies_ms.append((landed - written) * 1000)
        if scans:
            result.scan_done_ms.append((scans[0][0] - written) * 1000)
            result.files_per_edit.append(sum(files for _, files in scans))
        # Anything replaced outside the expected set (1 ms slack for the coarse file clock).
        extra = changed_since(output, wall_ns + 1_000_000) - {
            str(p.relative_to(output)) for p in expected
        }
        result.extra_files.extend(sorted(extra))
        if args.verbose:
            print(
                f"  edit {number:>3}: {key} → {len(expected)} files in "
                f"{result.latencies_ms[-1]:.0f} ms"
                + (f", {len(extra)} other files changed" if extra else ""),
                flush=True,
            )
        time.sleep(args.pause)


def run_size(size: int, base: Path, args) -> SizeResult:
    result = SizeResult(size)
    result.load_before = loadavg()
    work = base / f"watch-{size}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    content = work / "_articles"
    output = work / "public"
    started = time.perf_counter()
    GENERATOR.generate(content, size, seed=args.seed)
    result.generate_s = time.perf_counter() - started
    config = write_config(work, content, output)
    print(f"{size} documents generated in {result.generate_s:.1f} s in {work}", flush=True)

    result.build_s, result.build_max_rss_mib = cold_build(config, work, args.timeout)
    print(f"  cold build: {result.build_s:.1f} s", flush=True)

    affected, keys = in_process(config, result, args, content)
    print(
        f"  in-process: cold first scan {result.cold_scan_s:.2f} s, no-change rescan median "
        f"{statistics.median(result.rescans_s) * 1000:.0f} ms",
        flush=True,
    )

    started = time.perf_counter()
    worker = Worker(config, work)
    try:
        if not worker.ready.wait(args.timeout):
            raise SystemExit(f"worker not ready after {args.timeout:.0f} s:\n{worker.tail()}")
        result.ready_s = time.perf_counter() - started
        if worker.process.poll() is not None:
            raise SystemExit(f"worker exited:\n{worker.tail()}")
        print(f"  worker ready in {result.ready_s:.1f} s; {args.edits} edits…", flush=True)
        time.sleep(args.pause)
        try:
            run_edits(worker, content, output, affected, keys, result, args)
        except KeyboardInterrupt:
            print("  interrupted: the edits measured so far are reported", flush=True)
        result.worker_hwm_mib, result.worker_rss_mib = worker.memory_mib()
        if worker.failures:
            print(f"  warning: {worker.failures} worker scans failed:\n{worker.tail()}")
    finally:
        worker.stop()
    result.load_after = loadavg()
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    return result


def percentile(values: list[float], fraction: float) -> float:
    """The median for 0.5, else the nearest-rank percentile."""
    if fraction == 0.5:
        return statistics.median(values)
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered), math.ceil(fraction * len(ordered))) - 1)]


def report(results: list[SizeResult]) -> None:
    rows = [
        ("documents", lambda r: f"{r.size}"),
        ("generate s", lambda r: f"{r.generate_s:.1f}"),
        ("cold build s", lambda r: f"{r.build_s:.1f}"),
        ("cold build max RSS MiB", lambda r: f"{r.build_max_rss_mib:.0f}"),
        ("cold first scan (in-process) s", lambda r: f"{r.cold_scan_s:.2f}"),
        ("no-change rescan median ms", lambda r: f"{statistics.median(r.rescans_s) * 1000:.0f}"),
        (
            "no-change rescan min–max ms",
            lambda r: f"{min(r.rescans_s) * 1000:.0f}–{max(r.rescans_s) * 1000:.0f}",
        ),
        ("worker start (first scan) s", lambda r: f"{r.ready_s:.1f}"),
        ("edits measured / timed out", lambda r: f"{len(r.latencies_ms)} / {r.timeouts}"),
        ("edit → last feed file p50 ms", lambda r: stat(r.latencies_ms, 0.5)),
        ("edit → last feed file p95 ms", lambda r: stat(r.latencies_ms, 0.95)),
        ("edit → last feed file min ms", lambda r: stat(r.latencies_ms, 0.0)),
        ("edit → last feed file max ms", lambda r: stat(r.latencies_ms, 1.0)),
        ("edit → scan logged p50 ms", lambda r: stat(r.scan_done_ms, 0.5)),
        ("feed files replaced per edit", lambda r: stat(r.files_per_edit, 0.5, "{:.0f}")),
        ("files replaced outside the set", lambda r: f"{len(r.extra_files)}"),
        ("worker peak RSS (VmHWM) MiB", lambda r: f"{r.worker_hwm_mib:.0f}"),
        ("worker RSS at end MiB", lambda r: f"{r.worker_rss_mib:.0f}"),
        ("load avg before", lambda r: r.load_before),
        ("load avg after", lambda r: r.load_after),
    ]
    width = max(len(name) for name, _ in rows)
    print()
    for name, cell in rows:
        print(f"{name:<{width}}  " + "  ".join(f"{cell(r):>16}" for r in results))
    for r in results:
        if r.extra_files:
            print(f"{r.size}: files replaced outside the expected set: {r.extra_files[:5]}")
    print(f"cores: {len(os.sched_getaffinity(0))}; uptime: {loadavg()} (1, 5, 15 min)")


def stat(values, fraction: float, fmt: str = "{:.0f}") -> str:
    if not values:
        return "—"
    if fraction == 0.0:
        return fmt.format(min(values))
    if fraction == 1.0:
        return fmt.format(max(values))
    return fmt.format(percentile(values, fraction))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000", help="comma-separated document counts")
    parser.add_argument("--edits", type=int, default=50, help="edits per size")
    parser.add_argument("--rescans", type=int, default=5, help="timed no-change rescans")
    parser.add_argument("--poll", type=float, default=0.002, help="poll interval, seconds")
    parser.add_argument("--pause", type=float, default=0.2, help="pause between edits, s")
    parser.add_argument("--edit-timeout", type=float, default=60, help="per edit, seconds")
    parser.add_argument("--timeout", type=float, default=1800, help="build / worker start, s")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, help="keep generated sites here (bench/out)")
    parser.add_argument("--profile", action="store_true", help="cProfile the in-process scans")
    parser.add_argument("--verbose", "-v", action="store_true", help="one line per edit")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if not SYNDICATOR.exists():
        parser.error(f"{SYNDICATOR} not found: run with the project's virtualenv python")
    allowed = ROOT / "bench" / "out"
    where = args.workdir.resolve() if args.workdir else None
    if where and ROOT in where.parents and where != allowed and allowed not in where.parents:
        parser.error("--workdir inside the repository must be bench/out (git-ignored)")
    results = []
    with tempfile.TemporaryDirectory(prefix="syndicator-watch-") as temporary:
        base = args.workdir.resolve() if args.workdir else Path(temporary)
        for size in sizes:
            results.append(run_size(size, base, args))
    report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
