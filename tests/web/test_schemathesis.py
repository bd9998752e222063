"""Schemathesis against ``/openapi.json`` of a real server (SQLite and PostgreSQL): whatever
it sends, within the schema or outside it, no operation answers 5xx, and what the operations
answer matches what the document says (status codes, content types, bodies).

Its command line runs as a subprocess (its pytest plugin cannot load a schema from a fixture
under pytest 9), bounded to ``EXAMPLES`` cases per operation and phase (about 750 requests,
a few seconds), with a fixed seed, the token, and a store holding a subscription, a failed delivery of each kind and a WebSub
subscriber, so reads and replays meet real rows too. Private targets are allowed, so fuzzed
URLs are never resolved, and no deliverer runs: no request leaves 127.0.0.1.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from syndicator.push import history, websub
from syndicator.store.schema import websub_subscriptions

from .harness import TOKEN, Site, make_config

EXAMPLES = 20
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def _seed(site: Site) -> None:
    created = site.api("POST", "/subscriptions", json={"url": "http://127.0.0.1:9/hook"})
    assert created.status_code == 201
    site.write("second.md", "Second")
    site.scan()
    now = datetime.now(UTC)
    with site.engine.begin() as connection:
        connection.execute(
            insert(websub_subscriptions).values(
                id=websub.subscription_id("rss.xml", "http://127.0.0.1:9/cb"),
                path="rss.xml",
                topic=site.topic(),
                callback="http://127.0.0.1:9/cb",
                secret="",
                lease_seconds=60,
                expires_at=now + timedelta(seconds=60),
                content_sha256=None,
                created_at=now,
                renewed_at=now,
            )
        )
        websub.enqueue_distribution(connection, site.output, now)
        connection.exec_driver_sql("UPDATE deliveries SET status = 'failed'")
    with site.engine.connect() as connection:
        assert {d.kind for d in history.list_deliveries(connection)} == {"webhook", "websub"}


def test_no_server_error_and_answers_as_documented(tmp_path, store_url):
    site = Site(make_config(tmp_path, store_url)).start(deliver=False)
    try:
        _seed(site)
        run = subprocess.run(
            [
                str(Path(sys.executable).parent / "schemathesis"),
                "run",
                site.url("/openapi.json"),
                f"--header=Authorization: Bearer {TOKEN}",
                f"--checks={CHECKS}",
                f"--max-examples={EXAMPLES}",
                "--seed=1",
                "--workers=1",
                "--generation-database=none",
                "--no-color",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
        )
    finally:
        site.close()
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert "Tested: 14" in run.stdout, run.stdout[-3000:]
