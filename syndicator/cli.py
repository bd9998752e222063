"""Command line (docs/contracts/cli.md). Exit codes: 0 ok, 1 content errors, 2 usage,
configuration, store or environment (a full disk, a folder not writable)."""

from __future__ import annotations

import argparse
import gc
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from syndicator.config import Config, ConfigError, load_config, with_overrides
from syndicator.push.status import DeliveryStatus
from syndicator.store import StoreError
from syndicator.vocabulary import Role

if TYPE_CHECKING:  # not imported at start: ``build`` starts reading first (``_cmd_build``)
    from sqlalchemy import Connection

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
    run.add_argument(
        "--role", choices=list(Role), type=Role, help="what this process does (worker.role: all)"
    )
    # The children of ``run --role all`` (syndicator.worker.supervisor): not for people.
    run.add_argument("--supervisor", type=int, help=argparse.SUPPRESS)
    run.add_argument("--wake-fd", type=int, help=argparse.SUPPRESS)
    run.add_argument("--ready-fd", type=int, help=argparse.SUPPRESS)

    def group(name: str, help_text: str) -> Callable[[str, str], argparse.ArgumentParser]:
        actions = commands.add_parser(name, help=help_text).add_subparsers(
            dest="action", required=True, metavar="ACTION"
        )

        def action(verb: str, action_help: str) -> argparse.ArgumentParser:
            sub = actions.add_parser(verb, help=action_help, description=action_help)
            sub.add_argument("--config", type=Path, help="configuration file")
            return sub

        return action

    def paged(sub: argparse.ArgumentParser, cursor: type = int) -> argparse.ArgumentParser:
        sub.add_argument("--json", action="store_true")
        sub.add_argument("--limit", type=_positive, default=100, help="rows to print (100)")
        sub.add_argument("--before", type=cursor, help="cursor printed after the previous page")
        return sub

    event = group("events", "the event log")
    paged(event("list", "list events, newest first"))

    subscription = group("subscriptions", "webhook subscriptions")
    add = subscription("add", "subscribe an endpoint; prints its id and secret (shown only now)")
    add.add_argument("url")
    add.add_argument("--category", action="append", default=[], help="only these (repeatable)")
    add.add_argument("--tag", action="append", default=[], help="only these (repeatable)")
    add.add_argument("--event", action="append", default=[], help="event types (item.published)")
    add.add_argument("--secret", help="whsec_… secret to use instead of a generated one")
    add.add_argument("--description", default="")
    paged(subscription("list", "list subscriptions, newest first (never their secrets)"), str)
    subscription("remove", "delete a subscription and its deliveries").add_argument("id")

    delivery = group("deliveries", "the delivery log")
    listing = paged(delivery("list", "list deliveries, newest first, with every attempt"))
    listing.add_argument("--status", choices=list(DeliveryStatus))
    delivery("replay", "queue a delivery again, with the same webhook-id").add_argument(
        "id", type=int
    )

    prune = command("prune", "delete settled deliveries and events older than push.retention_days")
    prune.add_argument("--now", help="ISO date-time to use as the current time")
    return parser


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {number}")
    return number


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
            "subscriptions": _cmd_subscriptions,
            "deliveries": _cmd_deliveries,
            "prune": _cmd_prune,
        }[args.command]
        return handler(args, config)
    except (ConfigError, UsageError, StoreError) as exc:
        print(f"syndicator: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        # The environment failed (a full disk, a folder not writable): one line, not a trace.
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"syndicator: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE


def run() -> NoReturn:
    """The ``syndicator`` command and ``python -m syndicator``: ``main``, then the exit.

    The cyclic collector looks at young objects every 10,000 allocations instead of 700: a
    build allocates millions, nearly all alive until it ends, and walking them took 0.14 s of
    a 5,000-document build in the main process alone (0.05 s now; workers inherit the setting).
    The objects left are frozen before the exit, so the interpreter's last collections do not
    walk every item, record and page a build made (0.16 s more); their memory goes back to
    the system with the process all the same.
    """
    gc.set_threshold(10_000, *gc.get_threshold()[1:])
    code = main()
    gc.freeze()
    raise SystemExit(code)


def _cmd_build(args: argparse.Namespace, config: Config) -> int:
    from syndicator.engine.reading import ReadAhead
    from syndicator.progress import Progress
    from syndicator.store.location import known_new

    now = parse_now(args.now, config)
    progress = Progress()
    # Into a new store every file is read: the workers start before the imports below.
    new = known_new(config.store.url)
    ahead = ReadAhead(config, progress) if new else None
    try:
        from syndicator.announce.announcer import announcing_pipeline
        from syndicator.store.database import ScannerLock, open_engine

        engine = open_engine(config.store.url, filling=new)
        lock = ScannerLock(engine)
        if not lock.try_acquire():
            raise StoreError(
                "a syndicator worker is running on this store; it keeps the feeds built"
            )
        try:
            pipeline = announcing_pipeline(config, engine, keep_cache=False)
            result = pipeline.scan(now, progress, ahead=ahead)
        finally:
            lock.release()
            engine.dispose()
    finally:
        if ahead is not None:
            ahead.close()
        progress.close()
    _print_problems(result.problems)
    report = result.report
    print(
        f"{result.summary()}; {len(result.catalog.feeds)} feeds in {config.output.dir}: "
        f"{len(report.written)} files written, "
        f"{report.unchanged} unchanged, {len(report.removed)} removed",
        file=sys.stderr,
    )
    return EXIT_CONTENT if result.errors else EXIT_OK


def _cmd_check(args: argparse.Namespace, config: Config) -> int:
    from syndicator.engine.pipeline import Pipeline
    from syndicator.store.database import open_existing

    now = parse_now(args.now, config)
    # The store, when there is one, says when undated documents were first seen: with it
    # check sees the catalog build would write. It is only read.
    store = open_existing(config.store.url)
    try:
        result = Pipeline(config, store, render=False).scan(now)
    finally:
        if store is not None:
            store.dispose()
    _print_problems(result.problems)
    errors = len(result.errors)
    print(
        f"{result.summary()}; {errors} errors, {len(result.problems) - errors} warnings",
        file=sys.stderr,
    )
    return EXIT_CONTENT if errors else EXIT_OK


def _cmd_run(args: argparse.Namespace, config: Config) -> int:
    from syndicator.worker.run import run

    role = args.role or config.worker.role
    failure = run(
        config,
        role,
        config_path=args.config,
        supervisor=args.supervisor,
        wake_fd=args.wake_fd,
        ready_fd=args.ready_fd,
    )
    if failure:
        print(f"syndicator: {failure}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


@contextmanager
def _store(config: Config) -> Iterator[Connection]:
    """One transaction on the configured store, for the management commands."""
    from syndicator.store.database import open_engine

    engine = open_engine(config.store.url)
    try:
        with engine.begin() as connection:
            yield connection
    finally:
        engine.dispose()


def _print_json(rows: Sequence[object]) -> None:
    print(json.dumps(rows, ensure_ascii=False, indent=1))


def _next_page(found: Sequence[object], limit: int, cursor: object) -> None:
    """Where the next page starts, on stderr so that ``--json`` output stays one array."""
    if len(found) == limit:
        print(f"more: --before {cursor}", file=sys.stderr)


def _cmd_events(args: argparse.Namespace, config: Config) -> int:
    from syndicator.store.records import recent_events

    with _store(config) as connection:
        found = recent_events(connection, limit=args.limit, before=args.before)
    if args.json:
        _print_json([e.as_dict() for e in found])
    else:
        for event in found:
            print(f"{event.id}\t{event.occurred_at.isoformat()}\t{event.type}\t{event.item_id}")
    _next_page(found, args.limit, found[-1].id if found else None)
    return EXIT_OK


def _cmd_prune(args: argparse.Namespace, config: Config) -> int:
    from syndicator.push.retention import prune
    from syndicator.store.database import open_engine

    engine = open_engine(config.store.url)
    try:
        pruned = prune(engine, parse_now(args.now, config), config.push.retention_days)
    finally:
        engine.dispose()
    print(f"{pruned} (older than {config.push.retention_days:g} days)")
    return EXIT_OK


def _cmd_subscriptions(args: argparse.Namespace, config: Config) -> int:
    from syndicator.push import subscriptions as subs
    from syndicator.push.guard import TargetRefused

    if args.action == "add":
        try:
            subscription = subs.new_subscription(
                args.url,
                categories=args.category,
                tags=args.tag,
                event_types=args.event,
                secret=args.secret,
                description=args.description,
                allow_private=config.push.allow_private_targets,
                now=datetime.now(UTC),
            )
        except (subs.SubscriptionError, TargetRefused) as exc:
            raise UsageError(str(exc)) from exc
        with _store(config) as connection:
            subs.add(connection, subscription)
        print(f"id: {subscription.id}\nsecret: {subscription.secret}")
        return EXIT_OK
    if args.action == "remove":
        with _store(config) as connection:
            if not subs.remove(connection, args.id):
                raise UsageError(f"no subscription {args.id}")
        print(f"removed {args.id}")
        return EXIT_OK
    try:
        with _store(config) as connection:
            found = subs.page(connection, limit=args.limit, before=args.before)
    except subs.SubscriptionError as exc:
        raise UsageError(f"--before: {exc}") from exc
    if args.json:
        _print_json([s.public() for s in found])
    else:
        for s in found:
            state = "enabled" if s.enabled else f"disabled: {s.disabled_reason}"
            filters = ",".join(
                [*(f"category:{c}" for c in s.categories), *(f"tag:{t}" for t in s.tags)]
            )
            print(f"{s.id}\t{s.url}\t{','.join(s.event_types)}\t{filters or 'all'}\t{state}")
    _next_page(found, args.limit, found[-1].id if found else None)
    return EXIT_OK


def _cmd_deliveries(args: argparse.Namespace, config: Config) -> int:
    from dataclasses import asdict

    from syndicator.push import history

    if args.action == "replay":
        with _store(config) as connection:
            refused = history.replay(connection, args.id, datetime.now(UTC))
        if refused:
            raise UsageError(f"cannot replay delivery {args.id}: {refused}")
        print(f"delivery {args.id} queued again")
        return EXIT_OK
    with _store(config) as connection:
        found = history.list_deliveries(
            connection, status=args.status, limit=args.limit, before=args.before
        )
    if args.json:
        _print_json([asdict(d) for d in found])
    else:
        for d in found:
            last = d.last_error or d.last_status or ""
            what = d.event_type or f"{d.kind} {d.topic}"
            print(f"{d.id}\t{d.status}\t{what}\t{d.subscription_id}\tattempts={d.attempts}\t{last}")
    _next_page(found, args.limit, found[-1].id if found else None)
    return EXIT_OK


def _print_problems(problems: Sequence[object]) -> None:
    for problem in problems:
        print(problem, file=sys.stderr)
