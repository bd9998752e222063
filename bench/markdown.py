"""cmark-gfm against markdown-it-py on the corpus bodies (run by hand; the figure behind the
choice of cmarkgfm in pyproject.toml).

    .venv/bin/pip install markdown-it-py     # not a project dependency
    .venv/bin/python bench/markdown.py [--runs 7] [--corpus DIR]

Both render CommonMark with tables and raw HTML kept, as ``syndicator.content.markup`` asks
of cmark-gfm; only the markdown step is timed (no template stripping, no sanitising).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cmarkgfm
import frontmatter
import yaml
from cmarkgfm.cmark import Options

CORPUS = Path(__file__).resolve().parents[1] / ".." / "shared" / "corpus"


def bodies(corpus: Path) -> list[str]:
    """The markdown body of every corpus document whose front matter parses."""
    found = []
    for path in sorted(corpus.rglob("*")):
        if not path.is_file() or path.name == "SOURCE.md":
            continue
        try:
            post = frontmatter.loads(path.read_text(encoding="utf-8-sig"))
        except (UnicodeDecodeError, yaml.YAMLError):
            continue
        if post.content.strip():
            found.append(post.content)
    return found


def cmark_renderer() -> Callable[[str], str]:
    def render(text: str) -> str:
        return cmarkgfm.markdown_to_html_with_extensions(
            text, options=Options.CMARK_OPT_UNSAFE, extensions=["table"]
        )

    return render


def markdown_it_renderer() -> Callable[[str], str]:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True}).enable("table").render


def median_seconds(render: Callable[[str], str], texts: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        for text in texts:
            render(text)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="timed passes over all bodies")
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="folder of documents")
    args = parser.parse_args()
    try:
        it_render = markdown_it_renderer()
    except ImportError:
        parser.error("markdown-it-py is not installed: .venv/bin/pip install markdown-it-py")
    texts = bodies(args.corpus)
    if not texts:
        parser.error(f"no documents under {args.corpus}")
    size = sum(len(t.encode("utf-8")) for t in texts)
    print(f"{len(texts)} bodies, {size / 1024:.0f} KiB; median of {args.runs} passes")
    cmark = median_seconds(cmark_renderer(), texts, args.runs)
    markdown_it = median_seconds(it_render, texts, args.runs)
    print(f"cmarkgfm        {cmark * 1000:8.1f} ms  ({cmark / len(texts) * 1e6:6.0f} µs/document)")
    print(
        f"markdown-it-py  {markdown_it * 1000:8.1f} ms  "
        f"({markdown_it / len(texts) * 1e6:6.0f} µs/document)"
    )
    print(f"ratio           {markdown_it / cmark:8.1f}x (markdown-it-py / cmarkgfm)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
