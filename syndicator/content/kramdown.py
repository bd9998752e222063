"""What kramdown (Jekyll's renderer, GFM input) does differently from cmark-gfm, as passes
around cmark-gfm: the body contract of ``docs/contracts/content.md``.

- Before: broken start tags are repaired (:func:`repair_tags`); HTML blocks are cut out the
  way kramdown finds them, from a block-level start tag at a line start to its own end tag, and
  a span tag opening a line is hidden so that cmark reads a paragraph (:func:`protect_html`).
- After: ``**`` pairs that kramdown takes for strong emphasis and cmark left as text
  (:func:`kramdown_strong`), then the HTML cut out goes back (:meth:`Protected.restore`).

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
_INSTRUCTION = re.compile(r"<\?.*?\?>", re.DOTALL)
_RAW_START = re.compile(rf"<(?:{_NAME}|/|!--|\?)")
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
_BLOCK_LINE = re.compile(r"^((?: {0,3}> ?)*) {0,3}<", re.MULTILINE)
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})", re.MULTILINE)
# Placeholders: a comment line stands for an HTML block (cmark passes it through as its own
# block); private-use characters around a number stand for a span tag opening a line.
_BLOCK_MARK = "<!--syndicator-html-{}-->"
_BLOCK_MARK_RE = re.compile(r"<!--syndicator-html-(\d+)-->")
_SPAN_OPEN, _SPAN_CLOSE = "\ue000", "\ue001"
_SPAN_MARK_RE = re.compile(f"{_SPAN_OPEN}(\\d+){_SPAN_CLOSE}")

# Start tags kramdown cannot read (a missing quote, a stray quoted word): the name, then the
# attribute text up to the next "<" or ">".
_BROKEN_START = re.compile(rf"<({_NAME})(\s[^<>]*)(>?)")
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
    for match in _BROKEN_START.finditer(source):
        name = match.group(1).lower()
        if name not in _KNOWN or match.start() < position or _TAG.match(source, match.start()):
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


def protect_html(source: str) -> Protected:
    """HTML blocks and line-opening span tags replaced by placeholders, kramdown's way."""
    if _SPAN_OPEN in source or _SPAN_CLOSE in source:
        source = source.replace(_SPAN_OPEN, "").replace(_SPAN_CLOSE, "")
    protected = Protected(source)
    if "<" not in source:
        return protected
    fences = _fenced_ranges(source)
    out: list[str] = []
    position = 0
    for match in _BLOCK_LINE.finditer(source):
        start = match.end() - 1
        if start < position or any(a <= start < b for a, b in fences):
            continue
        quote, prefix = match.group(1), source[match.start() : start]
        end = _block_end(source, start)
        if end is not None:
            # The block stands alone; what follows its end tag on the line starts a new block.
            block = source[start:end]
            if quote and "\n" in block:  # its lines inside a quotation: markers off
                block = re.sub(rf"^ {{0,3}}{re.escape(quote.strip())} ?", "", block, flags=re.M)
            protected.blocks.append(block)
            mark = _BLOCK_MARK.format(len(protected.blocks) - 1)
            blank = quote.rstrip() + "\n" if quote else "\n"
            out.append(f"{source[position : match.start()]}{blank}{prefix}{mark}\n{blank}")
            trailing = _TRAILING_WHITESPACE.match(source, end)
            position = trailing.end() if trailing else end
            if not trailing:
                out.append(quote)
            continue
        span = _TAG.match(source, start) or _CLOSE.match(source, start)
        if span and span.group(1).lower() in SPAN_ELEMENTS:
            # cmark would open an HTML block on a line holding only this tag; kramdown reads
            # a paragraph.
            out.append(source[position:start])
            protected.spans.append(span.group(0))
            out.append(f"{_SPAN_OPEN}{len(protected.spans) - 1}{_SPAN_CLOSE}")
            position = span.end()
    if not out:
        return protected
    out.append(source[position:])
    protected.text = "".join(out)
    return protected


def _fenced_ranges(source: str) -> list[tuple[int, int]]:
    if "```" not in source and "~~~" not in source:
        return []
    ranges = []
    position = 0
    while match := _FENCE.search(source, position):
        closing = re.compile(
            rf"^ {{0,3}}{re.escape(match.group(1)[0])}{{{len(match.group(1))},}}\s*$", re.MULTILINE
        )
        end = closing.search(source, match.end())
        stop = end.end() if end else len(source)
        ranges.append((match.start(), stop))
        position = stop
    return ranges


def _block_end(source: str, start: int) -> int | None:
    """Where the HTML block starting at ``start`` ends (after its end tag), or None when
    kramdown does not start a block there."""
    comment = _COMMENT.match(source, start)
    if comment:
        return comment.end()
    tag = _TAG.match(source, start)
    if not tag or tag.group(1).lower() in SPAN_ELEMENTS:
        return None
    return _element_end(source, tag)


def _element_end(source: str, tag: re.Match[str]) -> int:
    """kramdown's parse_raw_html: the end of the element opened by ``tag``, its children
    matched the same way; an end tag that closes nothing open is skipped, an element never
    closed runs to the end of the text."""
    stack = [tag.group(1).lower()] if _has_body(tag) else []
    position = tag.end()
    if stack and stack[-1] in _RAW_TEXT:
        return _raw_text_end(source, stack[-1], position)
    while stack:
        found = _RAW_START.search(source, position)
        if not found:
            return len(source)
        position = found.start()
        if matched := _COMMENT.match(source, position) or _INSTRUCTION.match(source, position):
            position = matched.end()
        elif child := _TAG.match(source, position):
            position = child.end()
            name = child.group(1).lower()
            if name in _RAW_TEXT and not child.group(4):
                position = _raw_text_end(source, name, position)
            elif _has_body(child):
                stack.append(name)
        elif closing := _CLOSE.match(source, position):
            position = closing.end()
            if closing.group(1).lower() == stack[-1]:
                stack.pop()
        else:
            position += 1
    return position


def _has_body(tag: re.Match[str]) -> bool:
    return not tag.group(4) and tag.group(1).lower() not in _VOID


def _raw_text_end(source: str, name: str, position: int) -> int:
    closing = re.compile(rf"</{name}\s*>", re.IGNORECASE).search(source, position)
    return closing.end() if closing else len(source)


_CODE_SPAN = re.compile(r"(`+).+?\1")
_INLINE_TAG = re.compile(r"<[^<>\n]*>")
_STRONG = re.compile(r"(?<!\\)\*\*")


def kramdown_strong(source: str) -> str:
    """``**`` pairs as kramdown reads them, written as ``<strong>`` for cmark to keep: an
    opening ``**`` followed by a non-space, closed by the next ``**`` after a non-space
    (``d**’un inventaire**``, ``dans**[lien](…)**``, ``**Nom –**Texte``), where CommonMark's
    flanking rules leave them as text or pair them otherwise. One line at a time, outside code."""
    if "**" not in source:
        return source
    fences = _fenced_ranges(source)
    lines = source.split("\n")
    offset = 0
    for number, line in enumerate(lines):
        start, offset = offset, offset + len(line) + 1
        if "**" not in line or line.startswith(("    ", "\t")):
            continue
        if any(a <= start < b for a, b in fences):
            continue
        lines[number] = _strong_line(line)
    return "\n".join(lines)


def _strong_line(line: str) -> str:
    hidden = [(m.start(), m.end()) for m in _CODE_SPAN.finditer(line)]
    hidden += [(m.start(), m.end()) for m in _INLINE_TAG.finditer(line)]
    marks = [
        m.start() for m in _STRONG.finditer(line) if not any(a <= m.start() < b for a, b in hidden)
    ]
    pairs: list[tuple[int, int]] = []
    index = 0
    while index < len(marks):
        opening = marks[index]
        after = line[opening + 2 : opening + 3]
        closing = next(
            (
                j
                for j in range(index + 1, len(marks))
                if marks[j] > opening + 2 and not line[marks[j] - 1].isspace()
            ),
            None,
        )
        if not after or after.isspace() or closing is None:
            index += 1
            continue
        pairs.append((opening, marks[closing]))
        index = closing + 1
    for opening, closing in reversed(pairs):
        line = (
            f"{line[:opening]}<strong>{line[opening + 2 : closing]}</strong>{line[closing + 2 :]}"
        )
    return line
