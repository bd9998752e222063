"""Cold-build time and memory of ``syndicator build`` on synthetic sites (run by hand).

    .venv/bin/python bench/build.py                      # 1k and 10k documents
    .venv/bin/python bench/build.py --sizes 1000,10000,100000

Each size gets a generated content folder (1–2 categories out of 10, 2–4 tags out of 200,
about 2 KB of markdown, dates spread over 10 years) and is built by the real command line in
a fresh process per run, with an empty output folder and a throwaway store: a cold build, as
after a deploy. Targets on the 2-core reference machine: ``history`` ≤ 1.0× Hugo's wall
time, ``newest`` ≤ 1.5× Hugo's, 10k documents in ≤ 6 s with ``default``, 100k within 1 GB of
peak PSS.

Each size is measured in up to three setups, interleaved run by run so that all see the same
machine (``--setups``):

- ``default``: the default configuration (RSS, Atom and JSON Feed, full content, archives).
- ``history``: the complete history, like for like with Hugo ``rssLimit = -1`` (every item in
  every feed): ours RSS only, summaries only (``full_content = false``, Hugo's RSS shows
  summaries), ``max_items = 50`` and RFC 5005 archives, which keep every item reachable.
- ``newest``: the newest 10 per feed, like for like with Hugo ``rssLimit = 10``: ours RSS
  only, summaries only, ``max_items = 10``, ``archives = false``.

When ``hugo`` is on PATH (Debian: ``apt-get install hugo``), the ``history`` and ``newest``
setups are each followed by the Hugo build they compare with, and the ratio of the two medians
is printed: the machine is shared, so a baseline measured in the same run says more than an
absolute time.

Nothing is deleted between runs: each run builds into a folder of its own, and all of them
are removed at the end (kept with ``--workdir``, for back-to-back invocations). ext4 avoids
reusing an inode deleted in the last minutes, and creating files right after thousands were
deleted made it scan its inode tables: that cost (about 15 % of a run, seen with ``perf``)
belongs to the benchmark's cleanup, not to the build. For the same reason a ``--workdir``
keeps its generated folders, which are reused when present.

``--baseline PATH`` names another ``syndicator`` executable (say, one installed from an
earlier commit in a venv of its own) built into the same kind of folder after each run, and
the ratio of the medians is printed: how much a change costs, measured on the same machine at
the same time. The pages for people were measured this way against the commit before them.

The interpreter is part of what is measured: the builds run the ``syndicator`` next to this
``python``. CPython built without profile-guided and link-time optimisation (pyenv's default
build, as on the reference machine's ``python3``) ran the same code 1.23× slower than Debian's
``python3.11`` in one run (5,000 documents, newest 10, five runs each: 7.36 s against 5.97 s).
A deployment that cares about build time runs a distribution's build, or pyenv's with
``PYTHON_CONFIGURE_OPTS=--enable-optimizations``.

``cpu s`` is the user + system time of the build and its workers, which other load on the
machine disturbs less than wall time. Memory is reported two ways because the build forks
worker processes: ``max RSS`` is the largest single process (the kernel's ``ru_maxrss`` over
the child and its workers), and ``peak PSS`` is the sampled sum over the whole process tree
with shared pages counted once, i.e. what the build really takes from the machine.

``--worker`` also starts ``syndicator run --role scanner`` on each size, with a fresh store
and output folder, and waits for its first scan (the ``worker running`` line, printed once
the first scan is done): its RSS then (``VmRSS``), its peak (``VmHWM``), and the peak PSS of
its process tree during the scan (the fork server and the workers it forks) are printed. The
process stays that size while it runs: it is what a deployment keeps resident.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SYNDICATOR = Path(sys.executable).with_name("syndicator")
BASE_URL = "https://bench.example.org"
NOW = "2026-01-01T00:00:00+01:00"

CATEGORIES = [
    "Actualité",
    "Communiqué de presse",
    "Open Data",
    "Entrepreneurs d’intérêt général",
    "Cœur de métier",
    "Sécurité",
    "Accessibilité",
    "Intelligence artificielle",
    "Cloud",
    "Territoires",
]
TAGS = [f"Thème {n:03d}" for n in range(200)]
WORDS = [
    "numérique",
    "service",
    "public",
    "données",
    "usagers",
    "administration",
    "projet",
    "État",
    "agents",
    "démarche",
    "plateforme",
    "ouverture",
    "code",
    "source",
    "accessibilité",
    "sécurité",
    "cloud",
    "territoire",
    "équipe",
    "produit",
    "expérimentation",
    "innovation",
    "programme",
    "lauréats",
    "appel",
    "candidature",
    "transformation",
]


@dataclass(frozen=True)
class Setup:
    """One way of building the same documents: our ``[feeds]`` settings and, when there is a
    like-for-like Hugo build, its ``rssLimit``."""

    name: str
    feeds: str
    hugo_rss_limit: int | None


SETUPS = {
    s.name: s
    for s in (
        Setup("default", "", None),
        Setup(
            "history",
            'formats = ["rss"]\nmax_items = 50\nfull_content = false\narchives = true\n',
            -1,
        ),
        Setup(
            "newest",
            'formats = ["rss"]\nmax_items = 10\nfull_content = false\narchives = false\n',
            10,
        ),
    )
}


@dataclass(frozen=True)
class Run:
    seconds: float
    cpu_seconds: float
    max_rss_mib: float
    peak_pss_mib: float
    exit_code: int


def sentence(rng: random.Random) -> str:
    words = rng.choices(WORDS, k=rng.randint(8, 18))
    return " ".join(words).capitalize() + "."


def paragraph(rng: random.Random) -> str:
    text = " ".join(sentence(rng) for _ in range(rng.randint(2, 4)))
    if rng.random() < 0.5:
        text += f" Voir [la page liée](/actualites/article-{rng.randint(0, 9999)}/)."
    if rng.random() < 0.3:
        text += ' Lire *aussi* le [rapport](https://www.example.org/rapport.pdf){:target="_blank"}.'
    return text


def body(rng: random.Random) -> str:
    """About 2 KB of the markdown the real site has: paragraphs, headings, lists, a table."""
    parts: list[str] = []
    while sum(len(p) for p in parts) < 1900:
        roll = rng.random()
        if roll < 0.1:
            parts.append(f"## {sentence(rng)[:-1]}")
        elif roll < 0.2:
            parts.append("\n".join(f"- {sentence(rng)}" for _ in range(3)))
        elif roll < 0.25:
            parts.append("| Indicateur | Valeur |\n|---|---|\n| Usagers | 42 |\n| Démarches | 7 |")
        elif roll < 0.28:
            parts.append("![Illustration](/assets/img/illustration.jpg)")
        else:
            parts.append(paragraph(rng))
    return "\n\n".join(parts) + "\n"


def document(rng: random.Random, number: int, date: datetime) -> tuple[str, str]:
    """(file name, text) of one synthetic document."""
    categories = rng.sample(CATEGORIES, rng.randint(1, 2))
    tags = rng.sample(TAGS, rng.randint(2, 4))
    title = sentence(rng)[:-1]
    text = "\n".join(
        [
            "---",
            f'title: "{title} ({number})"',
            f"date: {date.isoformat(sep=' ')}",
            "categories:",
            *(f"- {c}" for c in categories),
            "tags:",
            *(f"- {t}" for t in tags),
            f'chapeau-text: "{sentence(rng)}"',
            "---",
            "",
            body(rng),
        ]
    )
    return f"{date:%Y-%m-%d}-article-{number}.md", text


def generate(folder: Path, count: int, seed: int = 1) -> None:
    """``count`` documents over the 10 years before ``NOW``, the same for a given seed."""
    rng = random.Random(seed)
    folder.mkdir(parents=True)
    end = datetime.fromisoformat(NOW)
    span = int(timedelta(days=3652).total_seconds())
    paris = timezone(timedelta(hours=1))
    for number in range(count):
        date = (end - timedelta(seconds=rng.randrange(span))).astimezone(paris)
        name, text = document(rng, number, date.replace(microsecond=0))
        (folder / name).write_text(text, encoding="utf-8")


def tree_pss_kib(pid: int) -> int:
    """Proportional set size of ``pid`` and its descendants (shared pages split, not repeated)."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            for line in Path(f"/proc/{current}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
                    break
            for task in Path(f"/proc/{current}/task").iterdir():
                pending.extend(int(c) for c in (task / "children").read_text().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


def build_once(content: Path, work: Path, setup: Setup, syndicator: Path = SYNDICATOR) -> Run:
    """One cold build in a fresh process: into ``work``, a new folder, with a new store."""
    store = work / "store"
    store.mkdir(parents=True)
    config = work / "bench.toml"
    config.write_text(
        f'[store]\nurl = "sqlite:///{store / "syndicator.db"}"\n[feeds]\n{setup.feeds}',
        encoding="utf-8",
    )
    return measure(
        [
            str(syndicator),
            "build",
            "--config",
            str(config),
            "--content",
            str(content),
            "--output",
            str(work / "out"),
            "--base-url",
            BASE_URL,
            "--now",
            NOW,
        ],
        work,
    )


def hugo_once(hugo: str, content: Path, work: Path, rss_limit: int) -> Run:
    """The same documents built by Hugo into its RSS feeds (site, section, every category and
    tag), each holding the newest ``rss_limit`` items (-1: all of them), as the baseline the
    project measures itself against."""
    (work / "content").mkdir(parents=True)
    (work / "content" / "posts").symlink_to(content)
    (work / "hugo.toml").write_text(
        f'baseURL = "{BASE_URL}/"\ntitle = "Bench"\nrssLimit = {rss_limit}\n'
        'disableKinds = ["sitemap", "robotsTXT", "404"]\n'
        '[outputs]\nhome = ["RSS"]\nsection = ["RSS"]\ntaxonomy = ["RSS"]\nterm = ["RSS"]\n'
        "page = []\n",
        encoding="utf-8",
    )
    return measure([hugo, "--quiet", "--destination", str(work / "out")], work)


class PeakPss:
    """The largest ``tree_pss_kib`` of a process tree, sampled every 0.2 s in a thread."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.kib = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._done.wait(0.2):
            self.kib = max(self.kib, tree_pss_kib(self.pid))

    def stop(self) -> int:
        self._done.set()
        self._thread.join()
        return self.kib


def worker_once(content: Path, work: Path) -> tuple[float, float, float, float]:
    """``syndicator run --role scanner`` with the default feeds on a fresh store, until its
    first scan is done: (seconds, VmRSS MiB, VmHWM MiB, peak PSS MiB of its tree)."""
    (work / "store").mkdir(parents=True)
    config = work / "worker.toml"
    config.write_text(
        f'[site]\nbase_url = "{BASE_URL}"\n[content]\ndirs = ["{content}"]\n'
        f'[output]\ndir = "{work / "out"}"\n[store]\nurl = "sqlite:///{work / "store" / "s.db"}"\n'
        "[schedule]\nscan_interval_seconds = 86400\nwatch = false\n",
        encoding="utf-8",
    )
    command = [str(SYNDICATOR), "run", "--role", "scanner", "--config", str(config)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATOR_")}
    started = time.perf_counter()
    child = subprocess.Popen(
        command, cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    peak = PeakPss(child.pid)
    assert child.stderr is not None
    lines = []
    try:
        for line in child.stderr:
            lines.append(line)
            if "worker running" in line:
                break
        else:
            raise SystemExit(f"the worker stopped before its first scan:\n{''.join(lines)[-2000:]}")
        seconds = time.perf_counter() - started
        status = dict(
            line.split(":", 1)
            for line in Path(f"/proc/{child.pid}/status").read_text().splitlines()
        )
        rss, hwm = (int(status[name].split()[0]) / 1024 for name in ("VmRSS", "VmHWM"))
    finally:
        child.send_signal(signal.SIGTERM)
        child.communicate(timeout=60)
    return seconds, rss, hwm, peak.stop() / 1024


def measure(command: list[str], work: Path) -> Run:
    """Wall time, CPU time and memory of ``command`` run in ``work``."""
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = PeakPss(child.pid)
    assert child.stderr is not None
    errors = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    pss_kib = peak.stop()
    if child.returncode != 0:
        sys.stderr.write(errors.decode(errors="replace")[-2000:])
    cpu = usage.ru_utime + usage.ru_stime
    return Run(seconds, cpu, usage.ru_maxrss / 1024, pss_kib / 1024, child.returncode)


def row(label: str, runs: list[Run]) -> str:
    return (
        f"{label:>22} {len(runs):>4} {statistics.median(r.seconds for r in runs):>8.2f} "
        f"{statistics.median(r.cpu_seconds for r in runs):>7.2f} "
        f"{statistics.median(r.max_rss_mib for r in runs):>12.0f} "
        f"{statistics.median(r.peak_pss_mib for r in runs):>13.0f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000", help="comma-separated document counts")
    parser.add_argument("--runs", type=int, default=3, help="runs per size below 100k (median)")
    parser.add_argument(
        "--workdir", type=Path, help="keep generated data and outputs here (default: temp)"
    )
    parser.add_argument(
        "--setups",
        default=",".join(SETUPS),
        help=f"comma-separated, among {', '.join(SETUPS)} (see above)",
    )
    parser.add_argument(
        "--no-hugo", action="store_true", help="skip the Hugo baseline even if hugo is on PATH"
    )
    parser.add_argument(
        "--baseline", type=Path, help="another syndicator executable to compare with, same run"
    )
    parser.add_argument(
        "--worker",
        action="store_true",
        help="also measure the memory of `run` after its first scan of each size (see above)",
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    setups = [s.strip() for s in args.setups.split(",") if s.strip()]
    if unknown := set(setups) - set(SETUPS):
        parser.error(f"unknown setups {sorted(unknown)}: use {', '.join(SETUPS)}")
    if not SYNDICATOR.exists():
        parser.error(f"{SYNDICATOR} not found: run with the project's virtualenv python")
    with tempfile.TemporaryDirectory(prefix="syndicator-bench-") as temporary:
        base = (args.workdir or Path(temporary)).resolve()
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"{os.cpu_count()} CPUs, load average {load} (other work skews wall time)")
        print(
            f"Python {platform.python_version()} at {sys.executable} (how it was built matters: bench/build.py)"
        )
        print(
            f"{'docs setup':>22} {'runs':>4} {'wall s':>8} {'cpu s':>7} "
            f"{'max RSS MiB':>12} {'peak PSS MiB':>13}"
        )
        hugo = None if args.no_hugo else shutil.which("hugo")
        outputs = base / f"runs-{os.getpid()}"
        status = 0
        for size in sizes:
            content = base / f"site-{size}" / "_articles"
            if not content.exists():
                partial = content.with_name("_partial")
                shutil.rmtree(partial, ignore_errors=True)
                started = time.perf_counter()
                generate(partial, size)
                partial.rename(content)
                print(f"  (generated {size} documents in {time.perf_counter() - started:.1f} s)")
            ours: dict[str, list[Run]] = {name: [] for name in setups}
            theirs: dict[str, list[Run]] = {name: [] for name in setups}
            before: dict[str, list[Run]] = {name: [] for name in setups}
            # Interleaved, so that all see the same machine.
            for n in range(args.runs if size < 100_000 else 1):
                for name in setups:
                    setup = SETUPS[name]
                    ours[name].append(build_once(content, outputs / f"{size}-{name}-{n}", setup))
                    if args.baseline:
                        work = outputs / f"{size}-{name}-{n}-base"
                        before[name].append(build_once(content, work, setup, args.baseline))
                    if hugo and setup.hugo_rss_limit is not None:
                        work = outputs / f"{size}-{name}-{n}-hugo"
                        theirs[name].append(hugo_once(hugo, content, work, setup.hugo_rss_limit))
            runs = [r for name in setups for r in ours[name] + theirs[name] + before[name]]
            if any(r.exit_code for r in runs):
                print(f"build of {size} documents failed: exit {[r.exit_code for r in runs]}")
                status = 1
                break
            for name in setups:
                print(row(f"{size} {name}", ours[name]))
                for label, other in (("baseline", before[name]), ("Hugo", theirs[name])):
                    if not other:
                        continue
                    if label == "Hugo":
                        label = f"Hugo rssLimit={SETUPS[name].hugo_rss_limit}"
                    print(row(label, other))
                    ratio = statistics.median(r.seconds for r in ours[name]) / statistics.median(
                        r.seconds for r in other
                    )
                    cpu = statistics.median(r.cpu_seconds for r in ours[name]) / statistics.median(
                        r.cpu_seconds for r in other
                    )
                    print(f"{'':>22} {name}: ours / {label} wall {ratio:.2f}, cpu {cpu:.2f}")
            if args.worker:
                seconds, rss, hwm, pss = worker_once(content, outputs / f"{size}-worker")
                print(
                    f"{size:>22} run: first scan {seconds:.1f} s, then RSS {rss:.0f} MiB "
                    f"(peak {hwm:.0f}), peak PSS of its tree {pss:.0f} MiB"
                )
        if args.workdir is None:
            shutil.rmtree(outputs, ignore_errors=True)
        else:
            print(f"  (run outputs kept in {outputs}: deleting them slows the next minutes' runs)")
    return status


if __name__ == "__main__":
    sys.exit(main())
