"""What kramdown (Jekyll's renderer, GFM input) does differently from cmark-gfm, as passes
around cmark-gfm: the body contract of ``docs/contracts/content.md``.

- Before: broken start tags are repaired (:func:`repair_tags`); HTML blocks are cut out the
  way kramdown finds them, from a block-level start tag at a line start to its own end tag, and
  a span tag opening a line is hidden so that cmark reads a paragraph (:func:`protect_html`).
- Strong emphasis the way kramdown pairs it: ``emphasis.py``.
- After cmark: the HTML cut out goes back (:meth:`Protected.restore`).

The tag grammar and the element lists are kramdown's own (``kramdown/parser/html.rb``), so a
block ends where kramdown ends it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_NAME = r"[A-Za-z_][\w.\-]*(?::[A-Za-z_][\w.\-]*)?"
# kramdown's HTML_TAG_RE, HTML_TAG_CLOSE_RE, comment and processing instruction.
_TAG = re.compile(
    rf"<((?>{_NAME}))\s*((?>\s+{_NAME}(?:\s*=\s*(?:\w+|(\"|').*?\3))?)*)\s*(/)?>", re.DOTALL
)
_CLOSE = re.compile(rf"</({_NAME})\s*>")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
# The next thing kramdown's raw HTML parser reads inside an element: a comment, a processing
# instruction, an end tag (group 1) or a start tag (2; 5: self-closed); any other "<" is text.
_RAW_TOKEN = re.compile(
    rf"<!--.*?-->|<\?.*?\?>|</({_NAME})\s*>"
    rf"|<((?>{_NAME}))\s*((?>\s+{_NAME}(?:\s*=\s*(?:\w+|(\"|').*?\4))?)*)\s*(/)?>",
    re.DOTALL,
)
_TRAILING_WHITESPACE = re.compile(r"[ \t]*(?:\n|\Z)")

SPAN_ELEMENTS = frozenset(
    {
        "a",
        "abbr",
        "acronym",
        "b",
        "big",
        "bdo",
        "br",
        "button",
        "cite",
        "code",
        "del",
        "dfn",
        "em",
        "i",
        "img",
        "input",
        "ins",
        "kbd",
        "label",
        "mark",
        "option",
        "q",
        "rb",
        "rbc",
        "rp",
        "rt",
        "rtc",
        "ruby",
        "samp",
        "select",
        "small",
        "span",
        "strong",
        "sub",
        "sup",
        "tt",
        "u",
        "var",
    }
)
BLOCK_ELEMENTS = frozenset(
    {
        "address",
        "article",
        "aside",
        "applet",
        "body",
        "blockquote",
        "caption",
        "col",
        "colgroup",
        "dd",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hgroup",
        "hr",
        "html",
        "head",
        "iframe",
        "legend",
        "menu",
        "li",
        "main",
        "map",
        "nav",
        "ol",
        "optgroup",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "tbody",
        "td",
        "th",
        "thead",
        "tfoot",
        "tr",
        "ul",
        "details",
        "noscript",
        "object",
    }
)
_VOID = frozenset(
    {
        "area",
        "base",
        "br",
        "col",
        "command",
        "embed",
        "hr",
        "img",
        "input",
        "keygen",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    }
)
_RAW_TEXT = frozenset({"script", "style"})
_KNOWN = SPAN_ELEMENTS | BLOCK_ELEMENTS | _VOID | _RAW_TEXT | {"textarea", "math", "template"}

# A line that may open an HTML block: up to three spaces, then a tag or a comment; in a
# blockquote, after its ">" markers.
# Searched from the line's newline: a literal first character is what makes the search fast.
_BLOCK_LINE = re.compile(r"\n((?: {0,3}> ?)*) {0,3}<")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
# Placeholders: a comment line stands for an HTML block (cmark passes it through as its own
# block); control characters around a number stand for a span tag opening a line (XML forbids
# them, so markup.py has removed them from the source already, and removes any left over).
_BLOCK_MARK = "<!--syndicator-html-{}-->"
_BLOCK_MARK_RE = re.compile(r"<!--syndicator-html-(\d+)-->")
_SPAN_OPEN, _SPAN_CLOSE = "\x01", "\x02"
_SPAN_MARK_RE = re.compile(f"{_SPAN_OPEN}(\\d+){_SPAN_CLOSE}")

# Start tags kramdown cannot read (a missing quote, a stray quoted word): the name, then the
# attribute text up to the next "<" or ">".
_BROKEN_START = re.compile(rf"<({_NAME})(\s[^<>]*)(>?)")
# What a broken start tag looks like (verified against _TAG before any repair): a quote never
# closed inside the tag, an unquoted value ending in a quote, a quoted word with no name.
_SUSPECT = re.compile(
    rf"<{_NAME}\s[^<>]*?(?:=\s*\"[^\"<>]*(?:[<>]|\Z)|=\s*'[^'<>]*(?:[<>]|\Z)"
    r"|=[^\s\"'<>=]+[\"']|[\"']\s+[\"'])"
)
_LENIENT_ATTRIBUTE = re.compile(rf"({_NAME})\s*=\s*(\"[^\"]*\"?|'[^']*'?|[^\s\"'>]+)")


@dataclass
class Protected:
    """Source with its HTML cut out, and the pieces to put back after cmark."""

    text: str
    blocks: list[str] = field(default_factory=list)
    spans: list[str] = field(default_factory=list)

    def restore(self, rendered: str) -> str:
        def block(match: re.Match[str]) -> str:
            number = int(match.group(1))
            return self.blocks[number] if number < len(self.blocks) else ""

        def span(match: re.Match[str]) -> str:
            number = int(match.group(1))
            return self.spans[number] if number < len(self.spans) else ""

        if self.spans:
            rendered = _SPAN_MARK_RE.sub(span, rendered)
        if self.blocks:
            rendered = _BLOCK_MARK_RE.sub(block, rendered)
        return rendered


def repair_tags(source: str) -> str:
    """Start tags of known elements that kramdown would print as text, rewritten well-formed
    (``<a href=x.pdf" class="b">`` → ``<a href="x.pdf" class="b">``): the reader gets the link,
    and no quote left open swallows the text after it. A repaired link with no text shows its
    address."""
    if "<" not in source:
        return source
    out: list[str] = []
    position = 0
    for suspect in _SUSPECT.finditer(source):
        match = _BROKEN_START.match(source, suspect.start())
        if not match or match.start() < position or _TAG.match(source, match.start()):
            continue
        name = match.group(1).lower()
        if name not in _KNOWN:
            continue
        attributes = {
            key.lower(): value.strip("\"'").strip("\"'")
            for key, value in _LENIENT_ATTRIBUTE.findall(match.group(2))
        }
        rebuilt = "".join(f' {key}="{_quote(value)}"' for key, value in attributes.items())
        replacement = f"<{name}{rebuilt}>"
        end = match.end()
        if name == "a" and source.startswith("</a>", end) and attributes.get("href"):
            replacement += _quote(attributes["href"])
        out.append(source[position : match.start()])
        out.append(replacement)
        position = end
    if not out:
        return source
    out.append(source[position:])
    return "".join(out)


def _quote(value: str) -> str:
    return value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def protect_html(source: str, *, fenced: bool = True) -> Protected:
    """HTML blocks and line-opening span tags replaced by placeholders, kramdown's way.

    ``fenced``: whether the source may hold fenced code (False spares a scan for it)."""
    protected = Protected(source)
    if "<" not in source:
        return protected
    source = "\n" + source  # every line starts after a newline; cmark ignores this one
    fences = fenced_ranges(source) if fenced else []
    out: list[str] = []
    position = 0
    for match in _BLOCK_LINE.finditer(source):
        start = match.end() - 1
        if start < position or inside(fences, start):
            continue
        line = match.start() + 1
        quote, prefix = match.group(1), source[line:start]
        end, tag = _block_start(source, start)
        if end is not None:
            # The block stands alone; what follows its end tag on the line starts a new block.
            block = source[start:end]
            if quote and "\n" in block:  # its lines inside a quotation: markers off
                block = re.sub(rf"^ {{0,3}}{re.escape(quote.strip())} ?", "", block, flags=re.M)
            protected.blocks.append(block)
            mark = _BLOCK_MARK.format(len(protected.blocks) - 1)
            blank = quote.rstrip() + "\n" if quote else "\n"
            out.append(f"{source[position:line]}{blank}{prefix}{mark}\n{blank}")
            trailing = _TRAILING_WHITESPACE.match(source, end)
            position = trailing.end() if trailing else end
            if not trailing:
                out.append(quote)
            continue
        if (
            tag
            and tag.group(1).lower() in SPAN_ELEMENTS
            and _TRAILING_WHITESPACE.match(source, tag.end())
        ):
            # cmark would open an HTML block on a line holding only this tag (a paragraph for
            # kramdown): hidden from cmark, it is text.
            out.append(source[position:start])
            protected.spans.append(tag.group(0))
            out.append(f"{_SPAN_OPEN}{len(protected.spans) - 1}{_SPAN_CLOSE}")
            position = tag.end()
    if not out:
        return protected
    out.append(source[position:])
    protected.text = "".join(out)
    return protected


def may_have_fences(source: str) -> bool:
    # A one-character test first: far cheaper than a three-character one on non-ASCII text.
    return ("`" in source and "```" in source) or ("~" in source and "~~~" in source)


def fenced_ranges(source: str) -> list[tuple[int, int]]:
    """Fenced code blocks, where nothing is HTML or emphasis."""
    ranges: list[tuple[int, int]] = []
    for marker in ("```", "~~~"):
        position = source.find(marker)
        while position >= 0:
            line = source.rfind("\n", 0, position) + 1
            fence = _FENCE.match(source, line)
            if not fence or fence.group(1)[0] != marker[0] or inside(ranges, line):
                position = source.find(marker, position + 3)
                continue
            closing = re.compile(
                rf"^ {{0,3}}{re.escape(marker[0])}{{{len(fence.group(1))},}}[ \t]*$", re.M
            )
            end = closing.search(source, fence.end())
            stop = end.end() if end else len(source)
            ranges.append((line, stop))
            position = source.find(marker, stop)
    return ranges


def inside(ranges: list[tuple[int, int]], position: int) -> bool:
    return any(start <= position < end for start, end in ranges)


def _block_start(source: str, start: int) -> tuple[int | None, re.Match[str] | None]:
    """Where the HTML block starting at ``start`` ends (after its end tag; None when kramdown
    starts no block there), and the tag found there."""
    if source.startswith("<!--", start):
        comment = _COMMENT.match(source, start)
        return (comment.end() if comment else None), None
    tag = _TAG.match(source, start) or _CLOSE.match(source, start)
    if not tag or tag.group(0)[1] == "/" or tag.group(1).lower() in SPAN_ELEMENTS:
        return None, tag
    return _element_end(source, tag), tag


def _element_end(source: str, tag: re.Match[str]) -> int:
    """kramdown's parse_raw_html: the end of the element opened by ``tag``, its children
    matched the same way; an end tag that closes nothing open is skipped, an element never
    closed runs to the end of the text."""
    stack = [tag.group(1).lower()] if _has_body(tag) else []
    position = tag.end()
    if stack and stack[-1] in _RAW_TEXT:
        return _raw_text_end(source, stack[-1], position)
    while stack:
        token = _RAW_TOKEN.search(source, position)
        if not token:
            return len(source)
        position = token.end()
        closing, opening = token.group(1, 2)
        if closing:
            if closing.lower() == stack[-1]:
                stack.pop()
        elif opening and not token.group(5):
            name = opening.lower()
            if name in _RAW_TEXT:
                position = _raw_text_end(source, name, position)
            elif name not in _VOID:
                stack.append(name)
    return position


def _has_body(tag: re.Match[str]) -> bool:
    return not tag.group(4) and tag.group(1).lower() not in _VOID


def _raw_text_end(source: str, name: str, position: int) -> int:
    closing = re.compile(rf"</{name}\s*>", re.IGNORECASE).search(source, position)
    return closing.end() if closing else len(source)
