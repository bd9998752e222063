"""Errors of the REST API as problem details (RFC 9457, ``application/problem+json``).

One shape for every error a client of ``/api`` can meet, whether raised by an endpoint, by
FastAPI's request validation or by routing, so a script reads ``detail`` and never has to guess.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

MEDIA_TYPE = "application/problem+json"


class Problem(BaseModel):
    """RFC 9457 problem details; ``errors`` lists what request validation found."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[dict[str, Any]] | None = None


def problem(
    status: int, detail: str, *, headers: Mapping[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body = Problem(title=HTTPStatus(status).phrase, status=status, detail=detail, **extra)
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        media_type=MEDIA_TYPE,
        headers=headers,
    )


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses an operation can answer.

    ``model`` puts ``Problem`` among the schemas (FastAPI also lists it under
    ``application/json``, the operation's own type); the entry that matters is the problem type.
    """
    schema = {"$ref": "#/components/schemas/Problem"}
    return {
        status: {
            "model": Problem,
            "description": HTTPStatus(status).phrase,
            "content": {MEDIA_TYPE: {"schema": schema}},
        }
        for status in statuses
    }


def install(app: FastAPI) -> None:
    """Answer every HTTP error and validation failure of the app as a problem."""
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid)


async def _http_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)  # registered for this class only
    return problem(error.status_code, str(error.detail), headers=error.headers)


async def _invalid(_: Request, error: Exception) -> JSONResponse:
    """What was wrong and where, without echoing the input back."""
    assert isinstance(error, RequestValidationError)  # registered for this class only
    found = [
        {key: jsonable_encoder(value) for key, value in e.items() if key in ("type", "loc", "msg")}
        for e in error.errors()
    ]
    return problem(422, "the request is not valid; see errors", errors=found)
