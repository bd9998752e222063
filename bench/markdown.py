"""Cost per document of the markup stage (body → safe HTML), today's against a baseline
checkout, on the corpus bodies and on synthetic ones (run by hand).

    .venv/bin/python bench/markdown.py [--runs 7] [--baseline DIR] [--synthetic 10000]
    git archive f7bef98 | tar -x -C /tmp/base     # e.g. the renderer before kramdown fidelity

Both sides run ``render_markdown`` whole (template stripping, the kramdown passes, cmark-gfm,
sanitising), in this process, interleaved run by run so that both see the same machine, timed
in CPU seconds of the process. The
synthetic bodies are ``bench/build.py``'s (about 2 KB of the site's kind of markdown each).
With markdown-it-py installed, the figure behind the choice of cmarkgfm is printed as well:
cmark-gfm against markdown-it-py on the markdown step alone.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cmarkgfm
import frontmatter
import yaml
from build import body  # bench/build.py: the synthetic site's generator
from cmarkgfm.cmark import Options

from syndicator.content.markup import render_markdown

CORPUS = Path(__file__).resolve().parents[1] / ".." / "shared" / "corpus"
BASE_URL = "https://www.numerique.gouv.fr/actualites/x/"
Render = Callable[[str], str]


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


def synthetic(count: int) -> list[str]:
    rng = random.Random(1)
    return [body(rng) for _ in range(count)]


def baseline_renderer(checkout: Path) -> Render:
    """``render_markdown`` of another checkout, loaded beside ours under another name."""
    path = checkout / "syndicator" / "content" / "markup.py"
    spec = importlib.util.spec_from_file_location("baseline_markup", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    baseline: Callable[..., str] = module.render_markdown
    return lambda text: baseline(text, base_url=BASE_URL)


def ours(text: str) -> str:
    return render_markdown(text, base_url=BASE_URL)


def one_pass(render: Render, texts: list[str]) -> float:
    """CPU seconds of this process: on a shared machine, less disturbed than wall time."""
    started = time.process_time()
    for text in texts:
        render(text)
    return time.process_time() - started


def compare(label: str, texts: list[str], renderers: dict[str, Render], runs: int) -> None:
    times: dict[str, list[float]] = {name: [] for name in renderers}
    for _ in range(runs):
        for name, render in renderers.items():
            times[name].append(one_pass(render, texts))
    print(f"{label}: {len(texts)} bodies, median of {runs} passes")
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, seconds in medians.items():
        print(
            f"  {name:<10} {seconds * 1000:9.1f} ms  ({seconds / len(texts) * 1e6:6.0f} µs/document)"
        )
    if "baseline" in medians:
        print(f"  ratio      {medians['today'] / medians['baseline']:9.2f}x (today / baseline)")


def markdown_step(texts: list[str], runs: int) -> None:
    try:
        from markdown_it import MarkdownIt
    except ImportError:
        return
    it_render = MarkdownIt("commonmark", {"html": True}).enable("table").render

    def cmark(text: str) -> str:
        return cmarkgfm.markdown_to_html_with_extensions(
            text, options=Options.CMARK_OPT_UNSAFE, extensions=["table"]
        )

    compare("markdown step only", texts, {"cmarkgfm": cmark, "markdown-it": it_render}, runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="timed passes over all bodies")
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="folder of documents")
    parser.add_argument("--baseline", type=Path, help="another checkout to measure beside ours")
    parser.add_argument("--synthetic", type=int, default=10_000, help="synthetic bodies (0: none)")
    args = parser.parse_args()
    texts = bodies(args.corpus)
    if not texts:
        parser.error(f"no documents under {args.corpus}")
    renderers: dict[str, Render] = {"today": ours}
    if args.baseline:
        renderers["baseline"] = baseline_renderer(args.baseline)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average {load}")
    compare("corpus", texts, renderers, args.runs)
    if args.synthetic:
        compare("synthetic", synthetic(args.synthetic), renderers, args.runs)
    markdown_step(texts, args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
