"""Processes started together on a fresh store create its schema once, under a lock.

Without the lock, ``run --role scanner``, ``--role deliverer`` and ``--role web`` started at the
same moment on a new SQLite file raced to create the same tables, and one of them died with
"table documents already exists". Repeated, since a race shows only some of the time.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import inspect

from syndicator.store.database import open_engine

ROLES = ("scanner", "deliverer", "web")


def _start_together(config: Path) -> list[tuple[subprocess.Popen[str], Path]]:
    started = []
    for role in ROLES:
        log = config.parent / f"{role}.log"
        with log.open("w") as sink:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "syndicator",
                    "run",
                    "--config",
                    str(config),
                    "--role",
                    role,
                ],
                cwd=config.parent,
                stderr=sink,
                text=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        started.append((process, log))
    return started


def _wait_running(process: subprocess.Popen[str], log: Path) -> str:
    """The log once the process says it runs, or once it has exited (a failure)."""
    while "worker running" not in log.read_text() and process.poll() is None:
        time.sleep(0.02)
    return log.read_text()


@pytest.mark.parametrize("repeat", range(3))
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_three_roles_started_together_on_a_fresh_store_all_come_up(
    tmp_path, repeat, backend, request, worker_config
):
    url = (
        f"sqlite:///{tmp_path / 'var' / 's.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    (tmp_path / "_posts").mkdir()
    (tmp_path / "_posts" / "a.md").write_text("---\ntitle: A\ndate: 2024-01-01\n---\n\nText.\n")
    started = _start_together(worker_config(tmp_path, url, watch=False))
    try:
        logs = [_wait_running(process, log) for process, log in started]
        for (process, _), text in zip(started, logs, strict=True):
            assert process.poll() is None, text
            assert "worker running" in text, text
    finally:
        for process, _ in started:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process, _ in started:
            process.wait(timeout=60)
    engine = open_engine(url)
    assert {"documents", "items", "events"} <= set(inspect(engine).get_table_names())
    engine.dispose()
