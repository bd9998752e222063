"""Exit codes and terminal output of the command line (README "Commands"): 2 for a store or
configuration error, progress drawn on a terminal and never written into a pipe."""

from __future__ import annotations

import os
import pty
import socket
import subprocess
import sys

from .conftest import Site


def test_build_exits_2_while_a_worker_holds_the_store(site: Site):
    site.write("a.md", "A")
    worker = site.run()
    built = site.cli("build")
    assert built.code == 2
    assert "a syndicator worker is running on this store" in built.stderr
    assert worker.poll() is None
    # Once the worker is gone, the same build succeeds: the lock was the only reason.
    worker.terminate()
    assert worker.wait(timeout=120) == 0
    assert site.cli("build").code == 0


def test_an_unreachable_store_exits_2_for_every_command(site: Site, closed_port: int):
    site.store_url = f"postgresql+psycopg://postgres@127.0.0.1:{closed_port}/nowhere"
    site.configure()
    for args in (("build",), ("subscriptions", "list"), ("deliveries", "list"), ("events", "list")):
        result = site.cli(*args)
        assert result.code == 2, (args, result.stderr)
        assert result.stderr.startswith("syndicator: "), (args, result.stderr)
        assert "Traceback" not in result.stderr


def test_run_on_a_port_in_use_exits_2_naming_it(site: Site):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        site.configure(worker={"role": "web"}, server={"port": port})
        ran = subprocess.run(
            [sys.executable, "-m", "syndicator", "run", "--config", str(site.config)],
            cwd=site.root,
            capture_output=True,
            text=True,
            timeout=180,
        )
    assert ran.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in ran.stderr


def _build_command(site: Site) -> list[str]:
    return [sys.executable, "-m", "syndicator", "build", "--config", str(site.config)]


def _many(site: Site) -> None:
    """Enough documents for the parallel reading that reports progress (400 and more)."""
    for n in range(450):
        (site.posts / f"p{n}.md").write_text(f"---\ntitle: P{n}\ndate: 2024-01-01\n---\nText.\n")


def test_progress_is_drawn_on_a_terminal(site: Site):
    _many(site)
    pid, fd = pty.fork()
    if pid == 0:  # the child: stdout and stderr are the terminal
        os.chdir(site.root)
        os.execv(sys.executable, _build_command(site))
    seen = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the terminal closes when the child exits
            break
        if not chunk:
            break
        seen += chunk
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert b"\r\x1b[K" in seen  # the status line is redrawn in place…
    assert b"/450" in seen  # …counting the documents
    assert b"450 documents: 450 published" in seen


def test_nothing_but_the_summary_goes_into_a_pipe(site: Site):
    _many(site)
    built = subprocess.run(
        _build_command(site), cwd=site.root, capture_output=True, timeout=120, check=True
    )
    assert built.stdout == b""
    assert b"\r" not in built.stderr and b"\x1b" not in built.stderr
    assert built.stderr.decode().startswith("450 documents: 450 published")


def test_a_missing_content_folder_and_an_unknown_key_exit_2(site: Site):
    site.configure(feeds={"max_itemz": 3})
    unknown = site.cli("build")
    assert unknown.code == 2 and "max_itemz" in unknown.stderr
    site.configure()
    missing = site.cli("build", "--content", str(site.root / "nowhere"))
    assert missing.code == 2 and "content folder not found" in missing.stderr
