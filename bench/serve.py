"""How our feed server compares with nginx and with Starlette's StaticFiles as it comes.

Run by hand, not by pytest: ``.venv/bin/python bench/serve.py [--duration 5] [--rounds 3]``.
Needs ``wrk`` and ``nginx`` (``apt-get install -y wrk nginx``). Every server listens on
127.0.0.1 only, is started here in a temporary folder and is stopped here, whatever happens.

Scenarios, each with ``--connections`` keep-alive clients on one ~100 KB atom.xml: a plain 200
(no Accept-Encoding), a gzip 200, and a 304 (If-None-Match with the server's own ETag). Rounds
interleave the servers so that drift in the machine's speed hits all of them alike; medians
are reported. Each server gets one worker process, as does nginx; wrk runs one thread.
Stock nginx compresses every response (gzip_comp_level 1, its default); ours serves gzip
bytes compressed once per file version at level 9.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import http.client
import importlib.util
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from nginx_conf import nginx_conf  # bench/nginx_conf.py
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from syndicator.web.static import feed_files_app

HOST = "127.0.0.1"
FEED_PATH = "/atom.xml"
SERVERS = ("ours", "starlette", "nginx")
SCENARIOS = {
    "200 identity": ({}, 200),
    "200 gzip": ({"Accept-Encoding": "gzip"}, 200),
    "304 If-None-Match": ({}, 304),
}
SEED_DIR = Path(__file__).resolve().parent.parent / "seeds"
FALLBACK_WORDS = [
    *("numérique", "territoires", "collectivités", "services", "publics", "projets", "fonds"),
    *("agents", "données", "ouvertes", "administration", "transformation", "usagers", "état"),
]

# The http directives and servers of nginx_conf(): format with the same fields.
NGINX_HTTP = """\
    types {{ application/atom+xml xml; text/html html; }}
    charset utf-8;
    charset_types application/atom+xml;
    sendfile on;
    keepalive_requests 1000000;
    gzip on;
    gzip_types application/atom+xml;
    server {{
        listen {host}:{port};
        root {root};
        add_header Cache-Control "public, max-age=60";
    }}
"""


def words() -> list[str]:
    """The real corpus's vocabulary when the seeds are there, so gzip sees realistic text."""
    text = " ".join(path.read_text("utf-8") for path in sorted(SEED_DIR.glob("*.txt")))
    found = re.findall(r"[^\W\d_]{3,}", text)
    return found or FALLBACK_WORDS


def atom_feed(target_bytes: int = 100_000) -> bytes:
    rng = random.Random(5005)
    vocabulary = words()
    entries: list[str] = []
    size = 0
    while size < target_bytes:
        n = len(entries)
        paragraphs = "".join(
            f"&lt;p&gt;{' '.join(rng.choices(vocabulary, k=60))}.&lt;/p&gt;" for _ in range(4)
        )
        entry = (
            f"<entry><id>https://www.example.org/actualites/article-{n}/</id>"
            f"<title>{' '.join(rng.choices(vocabulary, k=8))}</title>"
            f"<link href='https://www.example.org/actualites/article-{n}/'/>"
            f"<updated>2024-05-{n % 28 + 1:02d}T10:00:00+02:00</updated>"
            f"<content type='html'>{paragraphs}</content></entry>"
        )
        entries.append(entry)
        size += len(entry.encode())
    head = "<?xml version='1.0' encoding='UTF-8'?><feed xmlns='http://www.w3.org/2005/Atom'>"
    return (head + "<title>Actualités</title>" + "".join(entries) + "</feed>").encode()


def build_folder(tmp: Path) -> Path:
    root = tmp / "out"
    root.mkdir()
    (root / "atom.xml").write_bytes(atom_feed())
    (root / "index.html").write_bytes(b"<!doctype html><title>Flux</title>")
    # nginx's workers run as an unprivileged user and must be able to read the folder.
    for path in (tmp, root):
        path.chmod(0o755)
    return root


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def python_app(kind: str, root: Path) -> ASGIApp:
    """The two Python servers under test: ours, and what Starlette gives with no work at all."""
    if kind == "ours":
        return feed_files_app(root, base_url="https://feeds.example.org", hub_url=None)
    routes = [Mount("/", StaticFiles(directory=root, html=True))]
    return Starlette(routes=routes, middleware=[Middleware(GZipMiddleware)])


def serve_python(kind: str, root: Path, port: int) -> None:
    """Entry point of the server subprocess (``--serve``)."""
    app = python_app(kind, root)
    uvicorn.run(app, host=HOST, port=port, lifespan="off", access_log=False, log_level="warning")


def command(kind: str, root: Path, port: int, tmp: Path) -> list[str]:
    if kind == "nginx":
        conf = tmp / "nginx.conf"
        conf.write_text(nginx_conf(tmp, NGINX_HTTP.format(host=HOST, port=port, root=root)))
        return ["nginx", "-p", str(tmp), "-e", str(tmp / "error.log"), "-c", str(conf)]
    serve = ["--serve", kind, "--root", str(root), "--port", str(port)]
    return [sys.executable, str(Path(__file__).resolve()), *serve]


def request(port: int, headers: dict[str, str]) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection(HOST, port, timeout=5)
    connection.request("GET", FEED_PATH, headers=headers)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def wait_ready(process: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        with contextlib.suppress(OSError):
            if request(port, {}).status == 200:
                return
        time.sleep(0.1)
    raise RuntimeError("server did not answer within 20 s")


@contextlib.contextmanager
def running(kind: str, root: Path, tmp: Path) -> Iterator[int]:
    """A started server's port; the server is stopped on the way out, even on error."""
    port = free_port()
    process = subprocess.Popen(command(kind, root, port, tmp), start_new_session=True)
    try:
        wait_ready(process, port)
        yield port
    finally:
        process.send_signal(signal.SIGQUIT if kind == "nginx" else signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def scenario_headers(port: int, scenario: str) -> dict[str, str]:
    """Request headers for one scenario, checked against one real response first."""
    headers, status = SCENARIOS[scenario]
    headers = dict(headers)
    if status == 304:
        headers["If-None-Match"] = request(port, {}).headers["ETag"]
    response = request(port, headers)
    if response.status != status:
        raise RuntimeError(f"{scenario}: expected {status}, got {response.status}")
    if (
        "gzip" in headers.get("Accept-Encoding", "")
        and response.headers["Content-Encoding"] != "gzip"
    ):
        raise RuntimeError(f"{scenario}: response not compressed")
    return headers


@dataclass(frozen=True)
class Load:
    duration: int
    connections: int


def wrk(port: int, headers: dict[str, str], load: Load) -> float:
    header_args = [arg for name, value in headers.items() for arg in ("-H", f"{name}: {value}")]
    argv = ["wrk", "-t1", f"-c{load.connections}", f"-d{load.duration}s", *header_args]
    output = subprocess.run(
        [*argv, f"http://{HOST}:{port}{FEED_PATH}"],
        capture_output=True,
        text=True,
        timeout=load.duration + 30,
        check=True,
    ).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)", output)
    if errors:
        raise RuntimeError(f"wrk reported errors: {errors.group(0)}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if match is None:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    return float(match.group(1))


def measure(root: Path, tmp: Path, load: Load, rounds: int) -> dict[tuple[str, str], list[float]]:
    results: dict[tuple[str, str], list[float]] = {}
    with contextlib.ExitStack() as stack:
        ports = {kind: stack.enter_context(running(kind, root, tmp)) for kind in SERVERS}
        headers = {
            (kind, scenario): scenario_headers(port, scenario)
            for kind, port in ports.items()
            for scenario in SCENARIOS
        }
        for port in ports.values():  # warm-up: caches, page cache, first-request paths
            wrk(port, {}, Load(duration=1, connections=load.connections))
        for round_number in range(1, rounds + 1):
            for (kind, scenario), request_headers in headers.items():
                rate = wrk(ports[kind], request_headers, load)
                results.setdefault((kind, scenario), []).append(rate)
                print(f"round {round_number}  {kind:<9} {scenario:<18} {rate:>10.0f} req/s")
    return results


def report(results: dict[tuple[str, str], list[float]]) -> None:
    print()
    print(f"{'median req/s':<18}" + "".join(f"{kind:>11}" for kind in SERVERS), end="")
    print(f"{'ours/nginx':>12}{'ours/starlette':>16}")
    for scenario in SCENARIOS:
        medians = {kind: statistics.median(results[(kind, scenario)]) for kind in SERVERS}
        row = "".join(f"{medians[kind]:>11.0f}" for kind in SERVERS)
        ratios = f"{medians['ours'] / medians['nginx']:>12.2f}"
        ratios += f"{medians['ours'] / medians['starlette']:>16.2f}"
        print(f"{scenario:<18}{row}{ratios}")


def describe(root: Path) -> None:
    body = (root / "atom.xml").read_bytes()
    compressed = len(gzip.compress(body, compresslevel=9))
    print(f"feed: {len(body)} bytes, {compressed} gzipped (level 9)")
    stack = [name for name in ("httptools", "uvloop") if importlib.util.find_spec(name)]
    print(f"uvicorn extras found: {', '.join(stack) or 'none (h11 + asyncio)'}")
    nginx_version = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()
    print(f"{nginx_version}; wrk -t1; {os.cpu_count()} CPUs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--serve", choices=("ours", "starlette"), help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_python(args.serve, args.root, args.port)
        return
    missing = [tool for tool in ("wrk", "nginx") if shutil.which(tool) is None]
    if missing:
        sys.exit(f"missing {', '.join(missing)}: apt-get install -y {' '.join(missing)}")
    tmp = Path(tempfile.mkdtemp(prefix="syndicator-bench-"))
    try:
        root = build_folder(tmp)
        describe(root)
        load = Load(duration=args.duration, connections=args.connections)
        report(measure(root, tmp, load, args.rounds))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
