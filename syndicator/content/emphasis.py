"""Strong emphasis as kramdown pairs it, where CommonMark's flanking rules differ.

kramdown opens ``**`` before any non-space and closes it at the next ``**`` after a non-space;
CommonMark also looks at punctuation on either side, so ``d**’un inventaire**`` or
``**Nom –**Texte`` stay asterisks there. The pairs are written as ``<strong>`` tags before cmark
runs, which keeps them as inline HTML and still reads the Markdown between them.
"""

from __future__ import annotations

import re

from syndicator.content.kramdown import fenced_ranges, inside

_CODE_SPAN = re.compile(r"(`+).+?\1")
_INLINE_TAG = re.compile(r"<[^<>\n]*>")
_STRONG = re.compile(r"(?<!\\)\*\*")
# Where kramdown and CommonMark may disagree: a ``**`` between a letter and punctuation (the
# literal first, so that the search is fast).
_ODD_STRONG = re.compile(r"\*\*(?:(?<=\w\*\*)(?=[^\w\s*])|(?<=[^\w\s*]\*\*)(?=\w))")


def kramdown_strong(source: str, *, fenced: bool = True) -> str:
    """``**`` pairs as kramdown reads them, written as ``<strong>`` for cmark to keep: an
    opening ``**`` followed by a non-space, closed by the next ``**`` after a non-space
    (``d**’un inventaire**``, ``dans**[lien](…)**``, ``**Nom –**Texte``), where CommonMark's
    flanking rules leave them as text or pair them otherwise. One line at a time, outside code,
    and only lines where the two may disagree: a ``**`` between a letter and punctuation.
    ``fenced`` as for :func:`~syndicator.content.kramdown.protect_html`."""
    found = _odd_strong(source, 0)
    if found < 0:
        return source
    fences = fenced_ranges(source) if fenced else []
    out: list[str] = []
    position = 0
    while found >= 0:
        start = source.rfind("\n", 0, found) + 1
        end = source.find("\n", found)
        end = len(source) if end < 0 else end
        line = source[start:end]
        if not line.startswith(("    ", "\t")) and not inside(fences, start):
            out.append(source[position:start])
            out.append(_strong_line(line))
            position = end
        found = _odd_strong(source, end)
    out.append(source[position:])
    return "".join(out)


def _odd_strong(source: str, position: int) -> int:
    """The next ``**`` with a letter on one side and punctuation on the other, or -1."""
    found = _ODD_STRONG.search(source, position)
    return found.start() if found else -1


def _strong_line(line: str) -> str:
    marks = [m.start() for m in _STRONG.finditer(line)]
    if "`" in line or "<" in line:
        hidden = [(m.start(), m.end()) for m in _CODE_SPAN.finditer(line)]
        hidden += [(m.start(), m.end()) for m in _INLINE_TAG.finditer(line)]
        marks = [mark for mark in marks if not any(a <= mark < b for a, b in hidden)]
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
