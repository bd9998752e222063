"""``/healthz`` and ``/metrics``: is this process able to serve, and how is the service doing.

``/healthz`` answers 503 only when the store cannot be reached (this process then cannot take
hub requests or answer the API); a stale scan is reported, not failed on, because feeds that
are a little old are still worth serving, and the scanner may run in another process.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from syndicator.config import Config
from syndicator.store import records
from syndicator.web import metrics

STALE_AFTER_INTERVALS = 3
"""A scan older than this many scan intervals is reported stale."""


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    store: str
    last_scan: str | None = None
    last_scan_age_seconds: float | None = None
    scan_stale: bool | None = None


def health_router(config: Config, engine: Engine, clock: Callable[[], datetime]) -> APIRouter:
    router = APIRouter(tags=["operations"])
    registry = metrics.registry(engine, clock)
    stale_after = STALE_AFTER_INTERVALS * config.schedule.scan_interval_seconds

    @router.get("/healthz", response_model=Health, responses={503: {"model": Health}})
    def healthz() -> Health | JSONResponse:
        """Store reachable, and the age of the last scan."""
        try:
            with engine.connect() as connection:
                last = records.get_setting(connection, records.LAST_SCAN)
        except SQLAlchemyError as error:
            down = Health(status="unavailable", store=f"unreachable: {type(error).__name__}")
            return JSONResponse(down.model_dump(), status_code=503)
        if last is None:
            return Health(status="ok", store="ok")
        age = (clock() - datetime.fromisoformat(last)).total_seconds()
        return Health(
            status="ok",
            store="ok",
            last_scan=last,
            last_scan_age_seconds=round(age, 3),
            scan_stale=age > stale_after,
        )

    @router.get(
        "/metrics",
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}},
    )
    def prometheus() -> Response:
        """Prometheus text exposition."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router
