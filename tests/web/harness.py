"""A running site for the web tests, as ``syndicator run --role all`` holds one: a content
folder and its feeds, the store, a deliverer, and the app on a real uvicorn on 127.0.0.1.

``scan`` does what the worker does after each scan: queue WebSub distribution, wake the
deliverer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from syndicator.announce.announcer import announcing_pipeline
from syndicator.config import Config, with_overrides
from syndicator.push import history, subscribers
from syndicator.push.deliverer import Deliverer
from syndicator.store.database import open_engine
from syndicator.web.app import create_app
from syndicator.web.server import Server

from .subscriber import Answer, Subscriber, Subscribers, echo

BASE_URL = "https://feeds.example.org"
HUB_URL = f"{BASE_URL}/hub"
TOKEN = "test-token-0123456789"


def make_config(tmp_path: Path, store_url: str, **sections: dict[str, Any]) -> Config:
    (tmp_path / "_posts").mkdir(exist_ok=True)
    settings: dict[str, dict[str, Any]] = {
        "site": {"base_url": BASE_URL, "title": "Example"},
        "content": {"dirs": [str(tmp_path / "_posts")]},
        "output": {"dir": str(tmp_path / "out")},
        "store": {"url": store_url},
        "server": {"api_token": TOKEN},
        "push": {"allow_private_targets": True, "timeout_seconds": 2},
    }
    for name, values in sections.items():
        settings[name] = {**settings.get(name, {}), **values}
    return with_overrides(Config(), **settings)


def wait_for(condition: Callable[[], object], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


class Site:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.output = Path(config.output.dir)
        self.content = Path(config.content.dirs[0])
        self.engine = open_engine(config.store.url)
        self.scanner = announcing_pipeline(config, self.engine)
        self.deliverer = Deliverer(config, self.engine, sole_deliverer=True)
        self.server = Server(
            create_app(config, self.engine, on_change=self.deliverer.wake),
            host="127.0.0.1",
            port=0,
        )
        self.http = httpx.Client(timeout=10)
        self._subscribers = Subscribers()
        self._delivering = False

    def start(self, *, deliver: bool = True) -> Site:
        """The baseline scan of one document, then the server (and the deliverer)."""
        self.write("first.md", "First")
        self.scan()
        self.server.start()
        if deliver:
            self.start_delivering()
        return self

    def start_delivering(self) -> None:
        self.deliverer.start()
        self._delivering = True

    def subscriber(self, answer: Answer = echo) -> Subscriber:
        """A WebSub subscriber (or webhook receiver) on 127.0.0.1, stopped with the site."""
        return self._subscribers.start(answer)

    def close(self) -> None:
        self.http.close()
        self._subscribers.close()
        self.server.stop()
        if self._delivering:
            self.deliverer.stop()
        self.engine.dispose()

    def write(self, name: str, title: str, *, tags: str = "[]", categories: str = "[]") -> None:
        (self.content / name).write_text(
            f"---\ntitle: {title}\ndate: 2024-05-01 09:00:00\ntags: {tags}\n"
            f"categories: {categories}\n---\n\nText of {title}.\n"
        )

    def scan(self) -> int:
        """One scan and its WebSub distribution; the number of distributions queued."""
        result = self.scanner.scan(datetime.now(UTC))
        if result.events or result.distributions:
            self.deliverer.wake()
        return result.distributions

    def settled(self) -> None:
        """Until every queued delivery is delivered, failed or cancelled: a scan queues its
        distributions before it returns, so after this nothing more will be sent for it."""
        wait_for(
            lambda: all(
                d["status"] in ("delivered", "failed", "cancelled") for d in self.deliveries()
            )
        )

    def url(self, path: str) -> str:
        return f"{self.server.url}{path}"

    def topic(self, path: str = "rss.xml") -> str:
        return f"{BASE_URL}/{path}"

    def hub(self, **form: str) -> httpx.Response:
        """POST /hub with ``hub_mode=…`` style keywords turned into ``hub.mode=…``."""
        fields = {name.replace("hub_", "hub.", 1): value for name, value in form.items()}
        return self.http.post(self.url("/hub"), data=fields)

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {TOKEN}", **kwargs.pop("headers", {})}
        return self.http.request(method, self.url(f"/api{path}"), headers=headers, **kwargs)

    def subscriptions(self) -> list[dict[str, Any]]:
        with self.engine.connect() as connection:
            return subscribers.active(connection, datetime.now(UTC))

    def deliveries(self) -> list[dict[str, Any]]:
        with self.engine.connect() as connection:
            return [asdict(d) for d in history.list_deliveries(connection)]


@contextmanager
def sites(tmp_path: Path, store_url: str) -> Iterator[Callable[..., Site]]:
    """``make(deliver=…, section={…})`` starts a site; all are closed at the end."""
    made: list[Site] = []

    def make(*, deliver: bool = True, **sections: dict[str, Any]) -> Site:
        made.append(Site(make_config(tmp_path, store_url, **sections)).start(deliver=deliver))
        return made[-1]

    try:
        yield make
    finally:
        for one in made:
            one.close()
