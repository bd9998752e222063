"""``syndicator run --role all`` as three processes: the web server in this one, the scanner
and the deliverer as its children, at a lower CPU priority.

Why: in one process the deliverer's threads, the scanner's renders and the HTTP server share
one interpreter lock and one CPU priority, so a fan-out to a hundred receivers delayed every
feed request (issue 12: p99 115 ms for 50 pollers). Apart, the readers' process has an
interpreter of its own, and the kernel favours it: the children run at ``nice`` +10.

The parent opens the store first (so migrations run once, here, before any child starts),
refuses to start beside another scanner on SQLite, takes back the deliveries a previous run
left in flight (on SQLite it is the only deliverer), starts its server, then each child as
``syndicator run --role scanner|deliverer --supervisor PID --wake-fd FD --ready-fd FD``, and
waits until it runs (a new scanner has made its first scan: a file written once ``run`` says it
runs is announced, as when one process did everything):

- Wake-up: a pipe. The scanner, and the API of this process, write a byte to it when they
  queue deliveries; the deliverer reads it and looks at once, instead of at its next idle poll.
- A child that dies is logged and started again at once (a scanner scans the whole folder when
  it starts, so no change is missed). One that exits with code 2 (configuration or store: a
  restart would fail the same way), or that died ``MAX_DEATHS`` times within ``DEATH_WINDOW``
  seconds, ends the run: the other child is stopped and ``run`` exits 2, naming it.
- SIGTERM or SIGINT to the parent: each child gets SIGTERM and is waited for (the scanner
  finishes its scan, the deliverer settles what it sent), then the server stops. The children
  have a process group of their own, so a terminal's Ctrl-C reaches the parent only.
- If the parent is killed outright, the kernel kills the children too (``PR_SET_PDEATHSIG``),
  as it would have killed threads. The signal comes when the thread that started a child
  ends, so children are only ever started from the main thread.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine

from syndicator.push.deliverer import take_back
from syndicator.store import StoreError
from syndicator.store.database import ScannerLock
from syndicator.vocabulary import Role

log = logging.getLogger("syndicator.worker")

CHILD_ROLES = (Role.SCANNER, Role.DELIVERER)
CHILD_NICENESS = 10
MAX_DEATHS = 5
DEATH_WINDOW = 60.0
EXIT_FATAL = 2
"""A child's exit code that a restart cannot fix (the CLI's configuration or store error)."""
READY = b"running"
_PR_SET_PDEATHSIG = 1


def notifier(fd: int) -> Callable[[], None]:
    """Tells the deliverer at the other end of the wake pipe that work was queued."""
    os.set_blocking(fd, False)

    def notify() -> None:
        with contextlib.suppress(BlockingIOError):  # full: a wake-up is pending already
            os.write(fd, b"\0")

    return notify


def listen(fd: int, wake: Callable[[], None]) -> None:
    """Calls ``wake`` whenever bytes arrive on the wake pipe (many bytes, one call)."""

    def run() -> None:
        while os.read(fd, 4096):
            wake()

    threading.Thread(target=run, name="wake-pipe", daemon=True).start()


def running(fd: int) -> None:
    """Tells the supervisor, once, that this child runs."""
    os.write(fd, READY)
    os.close(fd)


def become_child(supervisor: int) -> None:
    """Die with the supervisor, and yield the CPU to it. Called first thing in a child, so that
    every thread and process it starts inherits the lower priority."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG)")
    if os.getppid() != supervisor:  # it died before the line above
        raise SystemExit(f"syndicator: the supervising process {supervisor} is gone")
    os.nice(CHILD_NICENESS)


class _Child:
    def __init__(self, role: Role) -> None:
        self.role = role
        self.process: subprocess.Popen[bytes] | None = None
        self.deaths: deque[float] = deque(maxlen=MAX_DEATHS)


class Supervisor:
    """The scanner and deliverer children of ``run --role all``; see the module's docstring."""

    def __init__(self, engine: Engine, config_path: Path | None) -> None:
        self.engine = engine
        self._config_args = ["--config", str(config_path)] if config_path else []
        self._read, self._write = os.pipe()
        self.wake = notifier(self._write)
        self._children = [_Child(role) for role in CHILD_ROLES]

    def check_store(self) -> None:
        """Before the server starts: on SQLite, no other scanner; and what a previous run left
        in flight is due again (this run's deliverer is the only one)."""
        if self.engine.dialect.name != "sqlite":
            return
        lock = ScannerLock(self.engine)
        if not lock.try_acquire():
            raise StoreError(
                f"another syndicator worker is already scanning the store {self.engine.url!r}; "
                "stop it first (only one scanner may run per store)"
            )
        lock.release()
        take_back(self.engine)

    def start(self) -> str | None:
        """Start the children, from the main thread (see the module's docstring), and return
        once they run: the scanner has made its first scan. Why not, if one cannot start."""
        for child in self._children:
            # A stop asked meanwhile stays pending (blocked) until ``watch`` takes it.
            failure = self._start(child)
            if failure:
                return failure
        return None

    def _spawn(self, child: _Child) -> bool:
        """Start ``child`` and wait until it runs (True), or died trying (False)."""
        fd = self._write if child.role == Role.SCANNER else self._read
        ready, told = os.pipe()
        command = [sys.executable, "-m", "syndicator", "run", *self._config_args]
        command += ["--role", child.role, "--supervisor", str(os.getpid())]
        child.process = subprocess.Popen(
            [*command, "--wake-fd", str(fd), "--ready-fd", str(told)],
            pass_fds=(fd, told),
            process_group=0,
        )
        os.close(told)
        log.info("started the %s process (pid %d)", child.role, child.process.pid)
        with os.fdopen(ready, "rb") as answer:
            return answer.read(len(READY)) == READY

    def _start(self, child: _Child) -> str | None:
        """Start ``child``, again as long as it dies while starting and may be restarted."""
        while not self._spawn(child):
            assert child.process is not None
            failure = self._died(child, child.process.wait())
            if failure:
                return failure
        return None

    def watch(self, stopping: frozenset[signal.Signals]) -> str | None:
        """Keep the children running until one of ``stopping`` arrives (None), or until one
        cannot be kept running (why, for the user). These signals and SIGCHLD are blocked in
        every thread (``syndicator.worker.run``) and taken here, by the main thread."""
        while signal.sigwait(stopping | {signal.SIGCHLD}) == signal.SIGCHLD:
            for child in self._children:
                assert child.process is not None
                code = child.process.poll()
                if code is None:
                    continue
                failure = self._died(child, code) or self._start(child)
                if failure:
                    return failure
        return None

    def _died(self, child: _Child, code: int) -> str | None:
        how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
        now = time.monotonic()
        child.deaths.append(now)
        if code == EXIT_FATAL:
            return f"the {child.role} process {how}; see its message above"
        if len(child.deaths) == MAX_DEATHS and now - child.deaths[0] < DEATH_WINDOW:
            return (
                f"the {child.role} process {how}, its {MAX_DEATHS}th death within "
                f"{DEATH_WINDOW:g} s; giving up"
            )
        log.error("the %s process %s; starting it again", child.role, how)
        if child.role == Role.DELIVERER and self.engine.dialect.name == "sqlite":
            take_back(self.engine)
        return None

    def stop(self) -> None:
        """SIGTERM to every child still running, then wait for each: none outlives the run."""
        running = [c.process for c in self._children if c.process and c.process.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        for process in running:
            process.wait()
