"""Fixtures shared by the test folders: write a document, run the real command line.

They are fixtures returning plain functions (not importable helpers) because several test
folders have their own ``conftest.py``, and pytest gives each of them the module name
``conftest``.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from syndicator.cli import main


def _write_doc(folder: Path, name: str, text: str | bytes) -> Path:
    """``folder/name`` holding ``text`` (UTF-8 when a str, as is when bytes); parents created."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


@dataclass(frozen=True)
class CliResult:
    code: int
    stdout: str
    stderr: str


@contextlib.contextmanager
def _environment(cwd: Path, env: Mapping[str, str]) -> Iterator[None]:
    old_cwd = Path.cwd()
    old_env = {name: os.environ.get(name) for name in env}
    os.chdir(cwd)
    os.environ.update(env)
    try:
        yield
    finally:
        os.chdir(old_cwd)
        for name, value in old_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _run_cli(*args: str | Path, cwd: Path, env: Mapping[str, str] | None = None) -> CliResult:
    """``syndicator ARGS`` in this process, run from ``cwd`` (relative paths and the default
    store land there), with extra environment variables; argparse exits become exit codes."""
    out, err = io.StringIO(), io.StringIO()
    with (
        _environment(cwd, env or {}),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 2
    return CliResult(code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="session")
def write_doc() -> Callable[[Path, str, str | bytes], Path]:
    return _write_doc


@pytest.fixture(scope="session")
def run_cli() -> Callable[..., CliResult]:
    return _run_cli


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- Stores: a real SQLite file, and a fresh database on the PostgreSQL server of this machine.

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=test"


def _postgres_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


@pytest.fixture(scope="session")
def postgres() -> bool:
    """PostgreSQL must be there in CI; on a laptop without it the PostgreSQL runs are skipped."""
    if _postgres_available():
        return True
    if os.environ.get("CI"):
        pytest.fail("PostgreSQL on 127.0.0.1:5432 is required in CI")
    pytest.skip("no PostgreSQL on 127.0.0.1:5432")


@pytest.fixture
def postgres_url(postgres: bool) -> Iterator[str]:
    """A fresh database per test, dropped afterwards."""
    name = f"syndicator_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store' / 'syndicator.db'}"
    return request.getfixturevalue("postgres_url")


# --- Workers: ``syndicator run`` as a real process.


def _worker_config(root: Path, store_url: str, *, watch: bool = True) -> Path:
    """``root/syndicator.toml`` for a worker on ``root/_posts`` (made if missing), writing to
    ``root/out``, serving on a free port, with no periodic scan to wait for."""
    (root / "_posts").mkdir(exist_ok=True)
    config = root / "syndicator.toml"
    config.write_text(
        f"""
[site]
base_url = "https://example.org"
[content]
dirs = ["{root / "_posts"}"]
[output]
dir = "{root / "out"}"
[store]
url = "{store_url}"
[schedule]
scan_interval_seconds = 3600
watch = {"true" if watch else "false"}
[server]
port = 0
"""
    )
    return config


@pytest.fixture(scope="session")
def worker_config() -> Callable[..., Path]:
    return _worker_config


def _start_worker(config: Path, *args: str) -> subprocess.Popen[str]:
    """The worker, its log in a file beside the config (a pipe nobody reads would fill and
    block it); returns once it says it is running."""
    log = config.parent / "worker.log"
    offset = log.stat().st_size if log.exists() else 0
    with log.open("a") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "syndicator", "run", "--config", str(config), *args],
            cwd=config.parent,
            stderr=sink,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    # A hang guard only: on a loaded machine a cold start (imports, migrations) can take tens
    # of seconds of wall time.
    deadline = time.monotonic() + 180
    while "worker running" not in log.read_text()[offset:]:
        if process.poll() is not None:
            pytest.fail(f"worker exited: {log.read_text()[offset:]}")
        if time.monotonic() > deadline:
            process.kill()  # never leave it running after the test
            process.wait()
            pytest.fail("worker did not start")
        time.sleep(0.02)
    return process


@pytest.fixture
def start_worker() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start workers; any still running at the end of the test is stopped with SIGTERM."""
    started: list[subprocess.Popen[str]] = []

    def start(config: Path, *args: str) -> subprocess.Popen[str]:
        started.append(_start_worker(config, *args))
        return started[-1]

    yield start
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=120)
