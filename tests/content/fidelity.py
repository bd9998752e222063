"""Our body HTML against kramdown's (the oracle: Debian's ruby-kramdown, as Jekyll runs it).

Used by ``test_kramdown_fidelity.py`` and, run as a script, prints the per-folder table of the
corpus (``.venv/bin/python -m tests.content.fidelity [--show N]``); with ``PYTHONPATH`` pointing
at another checkout it measures that checkout's renderer instead.

The comparison is on what a reader sees: the visible text (tags stripped, whitespace,
typographic quotes and dashes folded), Markdown syntax left as text, tags printed as text, and
the number of links and images.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import subprocess
import unicodedata
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lxml import html as lxml_html

from syndicator.config import Config, SiteConfig
from syndicator.content.documents import DocumentError, parse_document
from syndicator.content.items import build_item
from syndicator.content.sources import Source

ORACLE = Path(__file__).with_name("kramdown_oracle.rb")
CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus" / "numerique.gouv.fr"
BASE_URL = "https://www.numerique.gouv.fr"
FOLDERS = ("_actualites", "_communiques", "_publications")
SIMILARITY = 0.97

_BLOCKS = {
    "p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol", "blockquote", "pre",
    "table", "tr", "td", "th", "figure", "figcaption", "section", "article", "hr", "br",
    "thead", "tbody", "dl", "dt", "dd", "header", "footer", "aside", "nav", "details", "summary",
}  # fmt: skip
_HIDDEN = {"script", "style", "template"}
_FOLD = str.maketrans(
    {
        "‘": "'", "’": "'", "‚": "'", "‛": "'", "ʼ": "'", "“": '"', "”": '"', "„": '"',
        "«": '"', "»": '"', "–": "-", "—": "-", "‑": "-", "\u00a0": " ", "\u202f": " ",
        "…": "...",
    }
)  # fmt: skip
# Liquid as Jekyll runs it before kramdown: page variables become their value, the rest (an
# include of the site's share buttons, tags) gives no text a feed would carry.
_PAGE_VARIABLE = re.compile(r"\{\{-?\s*page\.([A-Za-z0-9_-]+)\s*-?\}\}")
_OTHER_LIQUID = re.compile(r"\{%.*?%\}|\{\{.*?\}\}", re.DOTALL)
_PRINTED_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>")
_MARKUP_WORD = re.compile(r'[<>="]')
_RESIDUES = {
    "**": re.compile(r"\*\*"),
    "__": re.compile(r"__"),
    "](": re.compile(r"\]\("),
    "{:": re.compile(r"\{:"),
    "line-initial #": re.compile(r"^#", re.MULTILINE),
    "line-initial >": re.compile(r"^>", re.MULTILINE),
    "line-initial *": re.compile(r"^\* ", re.MULTILINE),
}


@dataclass
class CorpusDocument:
    folder: str
    key: str
    title: str
    front_matter: dict[str, Any]
    body: str
    ours: str = ""
    theirs: str = ""


@dataclass
class Verdict:
    similarity: float
    residues: list[str] = field(default_factory=list)
    links: tuple[int, int] = (0, 0)
    images: tuple[int, int] = (0, 0)
    broken_in_kramdown: bool = False

    @property
    def ok(self) -> bool:
        return (
            self.similarity >= SIMILARITY
            and not self.residues
            and self.links[0] >= self.links[1]
            and self.images[0] >= self.images[1]
        )


def corpus_documents(corpus: Path = CORPUS) -> list[CorpusDocument]:
    """Every published document of the three folders, with our rendering of its body."""
    config = replace(Config(), site=replace(SiteConfig(), base_url=BASE_URL))
    found = []
    seen: set[str] = set()
    for folder in FOLDERS:
        for path in sorted((corpus / folder).rglob("*")):
            if not path.is_file() or path.name.startswith("."):
                continue
            try:
                document = parse_document(path.read_bytes())
            except DocumentError:
                continue
            if document is None:
                continue
            key = f"{folder}/{path.relative_to(corpus / folder).as_posix()}"
            stat = path.stat()
            source = Source(str(path), key, folder, stat.st_size, stat.st_mtime_ns)
            item, _ = build_item(document, source, config)
            if item.draft or item.id in seen:  # a draft, or a copy whose ID an earlier file holds
                continue
            seen.add(item.id)
            found.append(
                CorpusDocument(
                    folder, key, item.title, document.front_matter, document.body, item.content_html
                )
            )
    return found


def as_jekyll_liquid(body: str, front_matter: dict[str, Any]) -> str:
    def value(match: re.Match[str]) -> str:
        found = front_matter.get(match.group(1))
        return "" if found is None else str(found)

    return _OTHER_LIQUID.sub("", _PAGE_VARIABLE.sub(value, body))


def kramdown_html(sources: list[str]) -> list[str]:
    """Every source through kramdown in one Ruby process."""
    result = subprocess.run(
        ["ruby", str(ORACLE)],
        input=json.dumps(sources),
        capture_output=True,
        text=True,
        check=True,
    )
    rendered: list[str] = json.loads(result.stdout)
    return rendered


def visible_text(fragment: str) -> str:
    """What a reader sees: text with a line break at each block (no script or style),
    whitespace and typography folded."""
    if not fragment.strip():
        return ""
    root = lxml_html.fragment_fromstring(fragment, create_parent="div")
    parts: list[str] = []

    def walk(element: Any) -> None:
        if element.tag in _HIDDEN:  # a reader sees none of it; our sanitiser drops it
            return
        block = isinstance(element.tag, str) and element.tag in _BLOCKS
        if block:
            parts.append("\n")
        if isinstance(element.tag, str) and element.text:
            parts.append(element.text)
        for child in element:
            walk(child)
            if child.tail:
                parts.append(child.tail)
        if block:
            parts.append("\n")

    walk(root)
    text = unicodedata.normalize("NFC", "".join(parts)).translate(_FOLD)
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def count(fragment: str, tag: str) -> int:
    if not fragment.strip():
        return 0
    root = lxml_html.fragment_fromstring(fragment, create_parent="div")
    return sum(1 for _ in root.iter(tag))


def compare(ours: str, theirs: str) -> Verdict:
    mine, kramdown = visible_text(ours), visible_text(theirs)
    broken = bool(_PRINTED_TAG.search(kramdown))
    # Where kramdown prints broken HTML as text, ours shows the repaired markup instead:
    # compare against kramdown's text without the printed tags.
    reference = _PRINTED_TAG.sub(" ", kramdown) if broken else kramdown
    words_mine, words_theirs = mine.split(), reference.split()
    if broken:  # what is left of a printed tag: attribute text, quotes
        words_theirs = [w for w in words_theirs if not _MARKUP_WORD.search(w)]
    similarity = difflib.SequenceMatcher(None, words_mine, words_theirs, autojunk=False).ratio()
    if broken and Counter(words_theirs) - Counter(words_mine) == Counter():
        similarity = max(similarity, 1.0)  # every word kramdown shows is in ours
    residues = [
        name
        for name, pattern in _RESIDUES.items()
        if len(pattern.findall(mine)) > len(pattern.findall(kramdown))
    ]
    if len(_PRINTED_TAG.findall(mine)) > len(_PRINTED_TAG.findall(kramdown)) or (
        broken and _PRINTED_TAG.search(mine)
    ):
        residues.append("tag printed as text")
    return Verdict(
        similarity,
        residues,
        (count(ours, "a"), count(theirs, "a")),
        (count(ours, "img"), count(theirs, "img")),
        broken,
    )


def judge(documents: list[CorpusDocument]) -> list[Verdict]:
    """Fills ``theirs`` with kramdown's rendering and compares each document."""
    sources = [as_jekyll_liquid(d.body, d.front_matter) for d in documents]
    for document, html in zip(documents, kramdown_html(sources), strict=True):
        document.theirs = html
    return [compare(d.ours, d.theirs) for d in documents]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--show", type=int, default=0, help="print the first N mismatches")
    args = parser.parse_args()
    documents = corpus_documents()
    verdicts = judge(documents)
    print(f"{'folder':<15} {'items':>5} {'match':>5}")
    for folder in FOLDERS:
        mine = [v for d, v in zip(documents, verdicts, strict=True) if d.folder == folder]
        print(f"{folder:<15} {len(mine):>5} {sum(v.ok for v in mine):>5}")
    print(f"{'total':<15} {len(verdicts):>5} {sum(v.ok for v in verdicts):>5}")
    shown = 0
    for document, verdict in zip(documents, verdicts, strict=True):
        if not verdict.ok and shown < args.show:
            shown += 1
            print(f"\n== {document.key}: {verdict}")
            a, b = visible_text(document.ours), visible_text(document.theirs)
            diff = difflib.unified_diff(b.split("\n"), a.split("\n"), "kramdown", "ours", n=0)
            print("\n".join(list(diff)[:40]))


if __name__ == "__main__":
    main()
