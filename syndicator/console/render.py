"""Console pages from their template files, in the reader's language, with the headers that
keep them private and inert: no caching, no framing, no script at all (the pages need none, so
the Content-Security-Policy forbids every script, and an address or a reply that carries one
is shown as text, never run)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from importlib.resources import files
from typing import Any
from urllib.parse import urlencode

from babel import negotiate_locale
from jinja2 import pass_context
from jinja2.runtime import Context
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from syndicator.config import Config
from syndicator.console.labels import CONSOLE_LABELS
from syndicator.pages.labels import Labels, ui_language
from syndicator.pages.render import template_files

ASSETS = {
    "feeds.css": files("syndicator.pages") / "static" / "feeds.css",
    "console.css": files("syndicator.console") / "static" / "console.css",
}
"""The stylesheets: the feed pages' own, then the console's additions; nothing from elsewhere."""

HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True, slots=True)
class Cursor:
    """The link to the next page of a list, when it was full (there may be more)."""

    href: str | None


class Views:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.default_lang = ui_language(config.site.language)
        self.env = template_files("syndicator.console")
        self.env.globals.update(site_title=config.site.title, when=datetime.fromisoformat)
        self.env.filters.update(labelled=_labelled, state_label=_state_label, pair=_pair)

    def labels(self, request: Request) -> Labels:
        """The reader's language when the console speaks it (Accept-Language), else the
        site's."""
        wanted = [
            part.split(";")[0].strip().replace("-", "_")
            for part in request.headers.get("accept-language", "").split(",")
            if part.strip()
        ]
        chosen = negotiate_locale(wanted, list(CONSOLE_LABELS), sep="_") if wanted else None
        lang = ui_language(chosen) if chosen else self.default_lang
        return Labels(lang, self.config.tz, CONSOLE_LABELS)

    def page(
        self,
        request: Request,
        template: str,
        *,
        status: int = 200,
        csrf: str = "",
        signed_in: bool = True,
        **context: Any,
    ) -> HTMLResponse:
        labels = self.labels(request)
        done = request.query_params.get("done", "")
        body = self.env.get_template(template).render(
            t=labels,
            csrf=csrf,
            signed_in=signed_in and bool(csrf),
            path=request.url.path,
            done=labels(f"done_{done}") if done in DONE else None,
            **context,
        )
        return HTMLResponse(body, status_code=status, headers=HEADERS)


@pass_context
def _state_label(context: Context, state: str) -> str:
    """A delivery's or an item's state in the reader's words (as stored when there are none)."""
    labels: Labels = context["t"]
    key = f"st_{state}"
    return str(labels(key)) if key in labels.table[labels.lang] else state


@pass_context
def _labelled(context: Context, state: str) -> tuple[str, str]:
    """A state as a filter's option: its value and its words."""
    return state, _state_label(context, state)


def _pair(value: str) -> tuple[str, str]:
    """A value that is its own label, as a filter's option."""
    return value, value


DONE = frozenset(
    {"created", "saved", "disabled", "enabled", "rotated", "test", "deleted", "replayed"}
)
"""What an action may report on the page it leads back to (``?done=…``)."""


def asset(name: str) -> Response:
    return Response(
        ASSETS[name].read_bytes(),
        media_type="text/css",
        headers={**HEADERS, "Cache-Control": "max-age=3600"},
    )


def next_link(
    request: Request, rows: list[Any], limit: int, cursor: object, param: str = "before"
) -> Cursor:
    """``?before=cursor`` (or ``param``) on the current query when the page is full."""
    if len(rows) < limit or cursor is None:
        return Cursor(None)
    return Cursor(with_param(request, param, str(cursor)))


def with_param(request: Request, name: str, value: str) -> str:
    """The current page's address with ``name`` set to ``value`` (and no ``done`` note)."""
    query = {k: v for k, v in request.query_params.items() if k not in (name, "done")}
    return f"{request.url.path}?{urlencode({**query, name: value})}"
