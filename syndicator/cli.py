"""Command line (DESIGN.md §5). Exit codes: 0 ok, 1 content errors, 2 usage or configuration."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from syndicator.config import Config, ConfigError, load_config, with_overrides
from syndicator.store.database import StoreError

EXIT_OK, EXIT_CONTENT, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad flags or values on the command line (exit 2)."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="syndicator", description="Feeds for a Jekyll-style content folder."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("--config", type=Path, help="configuration file (config/syndicator.toml)")
        return sub

    build = command("build", "build every feed into the output folder, then exit")
    build.add_argument("--content", action="append", help="content folder (repeatable)")
    build.add_argument("--output", help="output folder")
    build.add_argument("--base-url", help="the site's absolute URL")
    build.add_argument("--now", help="ISO date-time to use as the current time")

    check = command("check", "report content problems without writing; exit 1 on any error")
    check.add_argument("--content", action="append", help="content folder (repeatable)")
    check.add_argument("--now", help="ISO date-time to use as the current time")

    run = command("run", "run the worker: watch the folder, keep feeds current, push events")
    run.add_argument("--role", choices=("all", "scanner", "deliverer", "web"), default="all")

    events = commands.add_parser("events", help="the event log")
    events_commands = events.add_subparsers(dest="action", required=True, metavar="ACTION")
    events_list = events_commands.add_parser("list", help="list events, oldest first")
    events_list.add_argument("--config", type=Path, help="configuration file")
    events_list.add_argument("--json", action="store_true", help="one JSON array, for scripts")
    return parser


def parse_now(value: str | None, config: Config) -> datetime:
    """``--now``: an ISO date or date-time; naive values are in the site time zone."""
    if value is None:
        return datetime.now(UTC).astimezone(config.tz).replace(microsecond=0)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise UsageError(f"--now: not an ISO 8601 date-time: {value!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=config.tz)


def _config(args: argparse.Namespace) -> Config:
    config = load_config(args.config)
    content: dict[str, object] = {}
    if getattr(args, "content", None):
        content["dirs"] = args.content
    site = {"base_url": args.base_url} if getattr(args, "base_url", None) else {}
    output = {"dir": args.output} if getattr(args, "output", None) else {}
    sections = {k: v for k, v in (("content", content), ("site", site), ("output", output)) if v}
    config = with_overrides(config, **sections) if sections else config
    for folder in config.content.dirs if args.command in {"build", "check", "run"} else ():
        if not Path(folder).is_dir():
            raise ConfigError(f"content folder not found: {folder}")
    return config


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = _config(args)
        handler = {
            "build": _cmd_build,
            "check": _cmd_check,
            "run": _cmd_run,
            "events": _cmd_events,
        }[args.command]
        return handler(args, config)
    except (ConfigError, UsageError, StoreError) as exc:
        print(f"syndicator: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _cmd_build(args: argparse.Namespace, config: Config) -> int:
    from syndicator.progress import Progress
    from syndicator.scanner import Scanner
    from syndicator.store.database import ScannerLock, open_engine

    now = parse_now(args.now, config)
    engine = open_engine(config.store.url)
    lock = ScannerLock(engine)
    if not lock.try_acquire():
        raise StoreError("a syndicator worker is running on this store; it keeps the feeds built")
    progress = Progress()
    try:
        result = Scanner(config, engine, keep_cache=False).scan(now, progress)
    finally:
        progress.close()
        lock.release()
        engine.dispose()
    _print_problems(result.problems)
    catalog, report = result.catalog, result.report
    states = list(catalog.states.values())
    print(
        f"{result.documents} documents: {states.count('published')} published, "
        f"{states.count('draft')} drafts, {states.count('scheduled')} scheduled; "
        f"{len(catalog.feeds)} feeds in {config.output.dir}: {len(report.written)} files written, "
        f"{report.unchanged} unchanged, {len(report.removed)} removed",
        file=sys.stderr,
    )
    return EXIT_CONTENT if result.errors else EXIT_OK


def _cmd_check(args: argparse.Namespace, config: Config) -> int:
    from syndicator.build import content_dirs, read_sources
    from syndicator.catalog import build_catalog
    from syndicator.content.scan import scan

    now = parse_now(args.now, config)
    results = read_sources(scan(content_dirs(config)), config)
    items = [r.item for r in results if r.item is not None]
    catalog = build_catalog(items, now=now, first_seen={})
    problems = [p for r in results for p in r.problems] + list(catalog.problems)
    _print_problems(problems)
    errors = sum(1 for p in problems if p.severity == "error")
    documents = sum(1 for r in results if r.is_document)
    print(
        f"{documents} documents: {errors} errors, {len(problems) - errors} warnings",
        file=sys.stderr,
    )
    return EXIT_CONTENT if errors else EXIT_OK


def _cmd_run(args: argparse.Namespace, config: Config) -> int:
    import logging
    import signal
    import threading

    from syndicator.store.database import open_engine
    from syndicator.worker.service import Worker

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    worker = Worker(config, open_engine(config.store.url))
    worker.start()
    print(
        f"syndicator: worker running on {', '.join(config.content.dirs)}",
        file=sys.stderr,
        flush=True,
    )
    try:
        stop.wait()
    finally:
        worker.stop()
    print("syndicator: stopped", file=sys.stderr)
    return EXIT_OK


def _cmd_events(args: argparse.Namespace, config: Config) -> int:
    import json

    from syndicator.store.database import open_engine
    from syndicator.store.records import list_events

    engine = open_engine(config.store.url)
    with engine.connect() as connection:
        found = list_events(connection)
    engine.dispose()
    if args.json:
        print(json.dumps([e.as_dict() for e in found], ensure_ascii=False))
        return EXIT_OK
    for event in found:
        print(f"{event.id}\t{event.occurred_at.isoformat()}\t{event.type}\t{event.item_id}")
    return EXIT_OK


def _print_problems(problems: Sequence[object]) -> None:
    for problem in problems:
        print(problem, file=sys.stderr)
