"""``syndicator run``: one role in this process, or ``--role all`` as a web process that
supervises a scanner and a deliverer (``worker.supervisor``)."""

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path

from syndicator import parallel
from syndicator.config import Config
from syndicator.store.database import open_engine
from syndicator.vocabulary import Role
from syndicator.worker import supervisor as supervised
from syndicator.worker.service import Worker


def run(
    config: Config,
    role: Role,
    *,
    config_path: Path | None,
    supervisor: int | None = None,
    wake_fd: int | None = None,
    ready_fd: int | None = None,
) -> str | None:
    """Run until SIGTERM or SIGINT (None), or until the run cannot go on (why, for the user).
    ``supervisor``, ``wake_fd`` and ``ready_fd`` are given to the children of ``--role all``."""
    # A child of ``--role all`` inherits its supervisor's blocked signals: start from none, so
    # that the fork server below, and what it forks, can be stopped.
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    if supervisor is not None:
        supervised.become_child(supervisor)
    # ``--role all``: this process serves; its children scan and deliver.
    own = Role.WEB if role == Role.ALL else role
    if own.scans:  # before any thread starts: render workers are forked from this server
        parallel.prepare()
    # SIGTERM and SIGINT (and SIGCHLD for a supervisor) are taken by this thread with sigwait,
    # blocked everywhere else: the threads started below inherit the mask. A handler runs only
    # once this thread wakes up, and a signal the kernel gives to another thread never wakes a
    # thread blocked on a lock: a stop request could wait for ever (seen under load).
    stopping = frozenset({signal.SIGTERM, signal.SIGINT})
    signal.pthread_sigmask(
        signal.SIG_BLOCK, stopping | {signal.SIGCHLD} if role == Role.ALL else stopping
    )
    if os.environ.get("SYNDICATOR_CHECK_FORKS") == "1":
        parallel.forbid_fork_after_threads()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # APScheduler logs two INFO lines per job run; one line per scan that did something is ours.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    engine = open_engine(config.store.url)  # migrations: here, before any child starts
    children = supervised.Supervisor(engine, config_path) if role == Role.ALL else None
    wake = children.wake if children else None
    if wake_fd is not None and role == Role.SCANNER:
        wake = supervised.notifier(wake_fd)
    if children:
        children.check_store()
    worker = Worker(config, engine, role=own, wake=wake)
    try:
        worker.start()
    except OSError as exc:
        worker.stop()
        where = f"{config.server.host}:{config.server.port}"
        return f"cannot listen on {where}: {exc.strerror or exc}"
    if wake_fd is not None and worker.deliverer is not None:
        supervised.listen(wake_fd, worker.deliverer.wake)
    if ready_fd is not None:  # a child: its supervisor speaks for it
        supervised.running(ready_fd)
    try:
        failure = children.start() if children else None
        if failure:
            return failure
        serving = f"; serving {worker.server.url}" if worker.server else ""
        _say(f"worker running ({role}) on {', '.join(config.content.dirs)}{serving}", supervisor)
        if children:
            failure = children.watch(stopping)
        else:
            signal.sigwait(stopping)
    finally:
        if children:
            children.stop()
        worker.stop()
    if not failure:
        _say("stopped", supervisor)
    return failure


def _say(what: str, supervisor: int | None) -> None:
    if supervisor is None:
        print(f"syndicator: {what}", file=sys.stderr, flush=True)
