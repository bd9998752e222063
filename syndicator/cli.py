"""Command line (DESIGN.md §5). Exit codes: 0 ok, 1 content errors, 2 usage or configuration."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from syndicator.config import Config, ConfigError, load_config, with_overrides

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
    for folder in config.content.dirs:
        if not Path(folder).is_dir():
            raise ConfigError(f"content folder not found: {folder}")
    return config


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = _config(args)
        handler = {"build": _cmd_build, "check": _cmd_check}[args.command]
        return handler(args, config)
    except (ConfigError, UsageError) as exc:
        print(f"syndicator: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _cmd_build(args: argparse.Namespace, config: Config) -> int:
    from syndicator.build import build
    from syndicator.progress import Progress

    now = parse_now(args.now, config)
    progress = Progress()
    try:
        result = build(config, now=now, first_seen={}, progress=progress)
    finally:
        progress.close()
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
    from syndicator.build import catalog_of, content_dirs, read_sources
    from syndicator.content.scan import scan

    now = parse_now(args.now, config)
    results = read_sources(scan(content_dirs(config)), config)
    catalog = catalog_of(results, now=now, first_seen={})
    problems = [p for r in results for p in r.problems] + list(catalog.problems)
    _print_problems(problems)
    errors = sum(1 for p in problems if p.severity == "error")
    documents = sum(1 for r in results if r.is_document)
    print(
        f"{documents} documents: {errors} errors, {len(problems) - errors} warnings",
        file=sys.stderr,
    )
    return EXIT_CONTENT if errors else EXIT_OK


def _print_problems(problems: Sequence[object]) -> None:
    for problem in problems:
        print(problem, file=sys.stderr)
