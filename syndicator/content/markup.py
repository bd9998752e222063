"""Markdown body → safe, self-contained HTML for feed readers.

Feed readers show content out of the site's context: Liquid and kramdown syntax would leak as
text, relative links would point nowhere, and scripts are a hazard. So the source is cleaned of
template syntax, rendered by cmark-gfm (C; about ten times markdown-it-py on the corpus, see
``bench/markdown.py``), then sanitised by ammonia (nh3), which also resolves every URL.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from contextvars import ContextVar
from functools import lru_cache
from typing import Any
from urllib.parse import urljoin, urlsplit

import nh3
from cmarkgfm.cmark import Options
from lxml import etree
from lxml import html as lxml_html

from syndicator.content.emphasis import kramdown_strong
from syndicator.content.gfm import markdown_to_html
from syndicator.content.kramdown import may_have_fences, protect_html, repair_tags

# Liquid blocks and outputs, kramdown attribute lists / extensions: none means anything to a
# reader. ``{{ site.baseurl }}/x`` becomes ``/x``, which is then made absolute. A list left
# unclosed on its line (the real corpus has ``{:target="_blank")``) goes up to the next space.
_TEMPLATE = re.compile(r"\{%.*?%\}|\{\{.*?\}\}|\{::?[^}\n]*\}|\{:/[^}\n]*\}|\{:[^\s}]*", re.DOTALL)
_PAGE_VARIABLE = re.compile(r"\{\{-?\s*page\.([A-Za-z0-9_-]+)\s*-?\}\}")
# XML 1.0 allows tab, newline, carriage return and these ranges only.
_XML_FORBIDDEN = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_SAFE_SCHEMES = {"http", "https", "mailto", "tel", "ftp"}
_URL_ATTRIBUTES = {"href", "src", "cite", "poster"}
# Only characters a URL may hold as is, and no "%" (which requote_uri may need to fix).
_ALREADY_QUOTED = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]*\Z")
# Raw HTML is kept by cmark and made safe by the sanitiser, not dropped; quotes, dashes and
# ellipses typographic, as kramdown's smart quotes and typographic symbols make them.
_OPTIONS = Options.CMARK_OPT_UNSAFE | Options.CMARK_OPT_SMART
# GFM as kramdown's GFM parser reads it: tables and ~~strikethrough~~ (no bare-URL autolinks).
_EXTENSIONS = ["table", "strikethrough"]


def strip_xml_forbidden(text: str) -> str:
    """Characters XML 1.0 forbids would make the whole feed unreadable, so they go."""
    return _XML_FORBIDDEN.sub("", text)


def strip_templates(source: str) -> str:
    return _TEMPLATE.sub("", source)


def absolute_url(url: str, base: str) -> str | None:
    """``url`` resolved against ``base`` and percent-quoted; None when its scheme is unsafe.

    Called for every link of every document, so the two common cases (already absolute, and
    site-absolute ``/path``) skip ``urljoin`` and the re-quoting when there is nothing to do.
    """
    url = url.strip()
    if not url:
        return None
    if url.startswith(("https://", "http://")):
        resolved = url
    elif url.startswith("/") and not url.startswith("//") and "/." not in url:
        resolved = _origin(base) + url
    else:
        resolved = urljoin(base, url)
    if not _ALREADY_QUOTED.match(resolved):
        # Imported here: the rare URL that needs it is worth requests' import, a build of
        # clean URLs is not (``build`` never makes an HTTP request).
        from requests.utils import requote_uri

        resolved = requote_uri(resolved)
    scheme = resolved[: resolved.find(":")].lower() if ":" in resolved else ""
    return resolved if scheme in _SAFE_SCHEMES else None


@lru_cache(maxsize=1024)
def _origin(base: str) -> str:
    parts = urlsplit(base)
    return f"{parts.scheme}://{parts.netloc}"


def render_markdown(source: str, *, base_url: str, page: Mapping[str, Any] | None = None) -> str:
    """Markdown to sanitised HTML as kramdown (GFM input) renders it, every link absolute.

    ``page`` is the front matter, for ``{{ page.title }}`` and the like.
    """
    text = strip_templates(page_variables(strip_xml_forbidden(source), page or {}))
    fenced = may_have_fences(text)
    protected = protect_html(repair_tags(text), fenced=fenced)
    rendered = markdown_to_html(
        kramdown_strong(protected.text, fenced=fenced), options=_OPTIONS, extensions=_EXTENSIONS
    )
    clean_text = "&" not in text or "&#" not in text  # no control character: stripped above
    return sanitize(protected.restore(rendered), base_url=base_url, clean_text=clean_text)


def page_variables(source: str, page: Mapping[str, Any]) -> str:
    """``{{ page.key }}`` replaced by that front-matter value, as Jekyll's Liquid pass does
    before kramdown; a missing or non-scalar value gives nothing."""
    if "{" not in source or "page." not in source:
        return source

    def value(match: re.Match[str]) -> str:
        found = page.get(match.group(1))
        return "" if found is None or isinstance(found, dict | list) else str(found)

    return _PAGE_VARIABLE.sub(value, source)


def sanitize(fragment: str, *, base_url: str, clean_text: bool = False) -> str:
    """No script, no event handler, no ``javascript:``; every URL absolute against ``base_url``.

    ``clean_text``: the fragment holds no character XML forbids and no numeric character
    reference that could make one, so the output needs no second look (it costs as much as the
    sanitiser's own pass on a long body).
    """
    token = _BASE_URL.set(base_url)
    try:
        cleaned = _CLEANER.clean(fragment)
    finally:
        _BASE_URL.reset(token)
    return (cleaned if clean_text else strip_xml_forbidden(cleaned)).strip()


def _keep(_element: str, attribute: str, value: str) -> str | None:
    """The sanitiser's attribute filter: URLs made absolute against the fragment's base."""
    if attribute in _URL_ATTRIBUTES:
        return absolute_url(value, _BASE_URL.get())
    if attribute == "srcset":
        return None
    return value


# The base URL of the fragment being cleaned, for ``_keep``: one cleaner serves every
# document, since building ammonia's rules took half the time of cleaning a 2 KB body.
_BASE_URL: ContextVar[str] = ContextVar("base_url")
_CLEANER = nh3.Cleaner(
    attribute_filter=_keep, link_rel=None, url_schemes=_SAFE_SCHEMES, strip_comments=True
)


def first_paragraph(fragment: str) -> str:
    """The first ``<p>`` of rendered HTML: the summary when the author wrote none."""
    if "<p" not in fragment:
        return ""
    for element in lxml_html.fragments_fromstring(fragment):
        if (
            isinstance(element, lxml_html.HtmlElement)
            and element.tag == "p"
            and element.text_content().strip()
        ):
            return str(lxml_html.tostring(element, encoding="unicode", with_tail=False)).strip()
    return ""


def plain_text(fragment: str) -> str:
    """Text of an HTML fragment, for JSON Feed's plain-text ``summary``.

    libxml2's HTML parser straight from ``etree``: ``lxml.html``'s fragment functions give the
    same text (checked on the corpus) at more than twice the cost, once per item per JSON Feed
    entry and webhook payload."""
    if not fragment:
        return ""
    root = etree.fromstring(fragment, _HTML_PARSER)
    if root is None:  # nothing but white space
        return ""
    return " ".join(etree.tostring(root, method="text", encoding="unicode").split())


_HTML_PARSER = etree.HTMLParser()
