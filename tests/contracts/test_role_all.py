"""``syndicator run --role all`` as processes (docs/contracts/cli.md): this process serves, a
scanner and a deliverer run as its children at a lower CPU priority; SIGTERM stops all three
and leaves no process behind; a killed child is started again, and one that keeps dying ends
the run with exit code 2."""

from __future__ import annotations

import contextlib
import os
import re
import signal
from pathlib import Path

import feedparser
import httpx

from .conftest import Site, wait_until


def _stat(pid: int) -> list[str] | None:
    """``/proc/PID/stat`` fields after the command name (state is [0], ppid [1], nice [16]),
    None once the process is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    return text[text.rindex(")") + 2 :].split()


def _children(site: Site) -> dict[str, int]:
    """The newest pid of each child role, as the supervisor logged it."""
    return {
        role: int(pid)
        for role, pid in re.findall(r"started the (\w+) process \(pid (\d+)\)", site.log())
    }


def _processes_of(site: Site) -> list[str]:
    """Every live process whose command line names the site's folder (the workers, and the
    scanner's fork server and resource tracker, which run from it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        state = _stat(int(entry.name))
        if str(site.root) in command and state is not None and state[0] != "Z":
            found.append(f"{entry.name}: {command}")
    return found


def _served_titles(url: str) -> list[str]:
    return [
        e.title for e in feedparser.parse(httpx.get(f"{url}/atom.xml", timeout=120).content).entries
    ]


def test_role_all_scans_and_delivers_in_child_processes_and_stops_them_all(site: Site, endpoint):
    hook = endpoint()
    site.subscribe(hook.url(), "--event", "item.published", "--event", "item.updated")
    worker = site.run()
    url = site.served_at()
    children = _children(site)
    assert set(children) == {"scanner", "deliverer"}
    for role, pid in children.items():
        state = _stat(pid)
        assert state is not None, f"the {role} process is not running"
        assert int(state[1]) == worker.pid, f"the {role} process is not a child of run"
        assert int(state[16]) == 10, f"the {role} process runs at nice {state[16]}"
        assert (
            f"--role {role}"
            in Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        )
    assert int(_stat(worker.pid)[16]) == 0  # the readers' process keeps its priority

    site.write("a.md", "A")
    wait_until(lambda: _served_titles(url) == ["A"], what="the new article served")
    wait_until(lambda: [b["type"] for b in hook.json_posts()] == ["item.published"])
    site.write("a.md", "A, edited")
    wait_until(lambda: _served_titles(url) == ["A, edited"], what="the edit served")
    wait_until(lambda: len(hook.posts()) == 2, what="the edit delivered")
    published, updated = hook.json_posts()
    assert (updated["type"], updated["data"]["title"]) == ("item.updated", "A, edited")
    assert published["data"]["id"] == updated["data"]["id"]

    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=120) == 0
    # The parent waited for its children: they are gone (reaped), not orphaned.
    assert [_stat(pid) for pid in children.values()] == [None, None]
    # Their own helpers (the scanner's fork server) follow as their pipes close.
    wait_until(lambda: not _processes_of(site), what="no process of the run left")
    assert "syndicator: stopped" in site.log()


def test_a_killed_deliverer_is_started_again_and_delivers(site: Site, endpoint):
    hook = endpoint()
    site.subscribe(hook.url())
    worker = site.run()
    first = _children(site)
    os.kill(first["deliverer"], signal.SIGKILL)
    wait_until(lambda: _children(site)["deliverer"] != first["deliverer"], what="a new deliverer")
    assert "the deliverer process was killed by signal 9; starting it again" in site.log()
    again = _children(site)
    assert _children(site)["scanner"] == first["scanner"]  # the other child is left alone
    assert int(_stat(again["deliverer"])[1]) == worker.pid
    site.write("b.md", "B")
    wait_until(lambda: [b["data"]["title"] for b in hook.json_posts()] == ["B"])
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=120) == 0
    wait_until(lambda: not _processes_of(site), what="no process of the run left")


def test_a_child_that_keeps_dying_ends_the_run_with_exit_2(site: Site):
    worker = site.run()
    killed: set[int] = set()
    while worker.poll() is None:
        pid = _children(site)["scanner"]
        if pid not in killed:
            killed.add(pid)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        wait_until(
            lambda: worker.poll() is not None or _children(site)["scanner"] not in killed,
            what="the next scanner, or the end of the run",
        )
    assert worker.returncode == 2
    assert len(killed) == 5
    assert "the scanner process was killed by signal 9, its 5th death within 60 s" in site.log()
    wait_until(lambda: not _processes_of(site), what="no process of the run left")
