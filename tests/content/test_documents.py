"""docs/contracts/content.md: which files are documents, and what happens to those that cannot be read."""

from __future__ import annotations

import re

import pytest
import yaml

from syndicator.content.documents import DocumentError, FrontMatterLoader, parse_document

from .fidelity import CORPUS
from .helpers import Site, doc

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01"


def test_any_file_starting_with_front_matter_is_a_document_whatever_its_extension(site: Site):
    site.add("seed.txt", doc("title: Text file\ndate: 2024-01-01"))
    site.add("no-extension", doc("title: No extension\ndate: 2024-01-02"))
    site.add("post.markdown", doc("title: Markdown\ndate: 2024-01-03"))
    built = site.build()
    assert built.code == 0, built.stderr
    assert set(built.items()) == {"Text file", "No extension", "Markdown"}


def test_files_without_front_matter_are_ignored_silently(site: Site):
    site.add("kept.md", doc("title: Kept\ndate: 2024-01-01"))
    site.add("README.md", "# Not a document\n\nNo front matter here.\n")
    site.add("photo.png", PNG)
    site.add("notes.md", "Some text\n---\ntitle: Not front matter either\n---\n")
    built = site.build()
    assert built.code == 0, built.stderr
    assert set(built.items()) == {"Kept"}
    assert "README.md" not in built.stderr
    assert "photo.png" not in built.stderr


def test_byte_order_mark_and_crlf_line_ends_are_accepted(site: Site):
    text = doc(
        "title: Windows\ndate: 2024-01-01 10:00:00\ntags: [Saisie]", "Line one\n\nLine two\n"
    )
    site.add("windows.md", b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    built = site.build()
    assert built.code == 0, built.stderr
    item = built.items()["Windows"]
    assert item["date_published"] == "2024-01-01T10:00:00+01:00"
    assert item["tags"] == ["Saisie"]
    assert "\r" not in item["content_html"]
    assert (built.out / "tags" / "saisie" / "atom.xml").is_file()


def test_hidden_files_and_folders_are_ignored(site: Site):
    site.add("visible.md", doc("title: Visible\ndate: 2024-01-01"))
    site.add(".hidden.md", doc("title: Hidden file\ndate: 2024-01-01"))
    site.add(".git/objects.md", doc("title: Hidden folder\ndate: 2024-01-01"))
    site.add(".drafts/sub/deep.md", doc("title: Deep in a hidden folder\ndate: 2024-01-01"))
    built = site.build()
    assert built.code == 0, built.stderr
    assert set(built.items()) == {"Visible"}


def test_documents_in_subfolders_are_read(site: Site):
    site.add("2024/01/nested.md", doc("title: Nested\ndate: 2024-01-01"))
    assert set(site.build().items()) == {"Nested"}


def test_broken_yaml_is_reported_with_file_and_line_and_the_rest_builds(site: Site):
    site.add("good.md", doc("title: Good\ndate: 2024-01-01"))
    site.add("broken.md", "---\ntitle: Broken\ndate: 2024-01-01\ntags: [unclosed\n---\nBody\n")
    site.add("conflict.md", "---\ntitle: A\n<<<<<<< HEAD\ntitle: B\n---\nBody\n")
    built = site.build()
    assert built.code == 1
    assert set(built.items()) == {"Good"}
    assert re.search(r"broken\.md:[45]: error: invalid YAML", built.stderr), built.stderr
    assert re.search(r"conflict\.md:[34]: error: invalid YAML", built.stderr), built.stderr


def test_a_non_utf8_file_is_reported_with_its_line_and_skipped(site: Site):
    site.add("good.md", doc("title: Good\ndate: 2024-01-01"))
    site.add("latin1.md", "---\ntitle: Café\ndate: 2024-01-01\n---\nÉté\n".encode("latin-1"))
    built = site.build()
    assert built.code == 1
    assert set(built.items()) == {"Good"}
    assert re.search(r"latin1\.md:2: error: .*UTF-8", built.stderr), built.stderr


def test_an_unreadable_date_is_reported_on_its_line(site: Site):
    site.add("good.md", doc("title: Good\ndate: 2024-01-01"))
    site.add("bad-date.md", doc("title: Bad date\nauthor: Me\ndate: the day after tomorrow"))
    built = site.build()
    assert built.code == 1
    assert set(built.items()) == {"Good"}
    assert re.search(r"bad-date\.md:4: error: date", built.stderr), built.stderr


def test_a_raw_control_character_in_front_matter_is_removed_not_fatal(site: Site):
    """XML 1.0 forbids it and YAML refuses it; the author's document still deserves a feed."""
    site.add("ctrl.md", "---\ntitle: Form\x0cfeed\ndate: 2024-01-01\n---\nBody\n")
    built = site.build()
    assert built.code == 0, built.stderr
    assert set(built.items()) == {"Formfeed"}


def test_the_build_never_modifies_the_content_folder(site: Site):
    files = {
        "a.md": doc("title: A\ndate: 2024-01-01\ncategories: Open data", "{% include x %}\n"),
        "b.txt": b"\xef\xbb\xbf" + doc("title: B\ndate: 2024-01-01").replace("\n", "\r\n").encode(),
        "broken.md": "---\ntitle: [\n---\n",
    }
    for name, text in files.items():
        site.add(name, text)
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in site.content.iterdir()}
    site.build()
    after = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in site.content.iterdir()}
    assert after == before


def test_well_formed_yaml_with_an_impossible_value_is_reported_not_fatal(site: Site):
    site.add("good.md", doc("title: Good\ndate: 2024-01-01"))
    site.add("feb30.md", doc("title: Leap\ntags: [a]\ndate: 2024-02-30"))
    site.add("nested.md", doc("title: Nested\nune:\n- image: /x.png\n  date: 2024-13-01"))
    built = site.build()
    assert built.code == 1
    assert set(built.items()) == {"Good"}
    assert re.search(r"feb30\.md:4: error: .*out of range", built.stderr), built.stderr
    assert re.search(r"nested\.md:5: error: ", built.stderr), built.stderr
    assert "Traceback" not in built.stderr


FRONT_MATTERS = [
    "title: Plain\ndate: 2024-01-02 10:00:00 +01:00\npublished: no\ncategories: [A, B]\n",
    'quoted: "12"\nforced: !!str 2024-01-01\nfolded: >\n  one\n  two\nlines: |\n  a\n  b\n',
    "nested:\n  - image: /a.png\n    alt: A\n  - [1, two, 2024-01-01]\nmap: {a: 1, b: [x]}\n",
    "n: 12\nf: 1.5\ninf: .inf\nnull: ~\nempty:\nyes: on\noct: 0o17\nhex: 0x1f\nday: 2024-02-03\n",
    "base: &b {a: 1, b: 2}\nmerged:\n  <<: *b\n  c: 3\n",  # merge key
    "list: &l [1, 2]\nagain: *l\n",  # one collection, two places
    "word: &w hello\nagain: *w\n",  # an aliased string
    "loop: &x [*x]\n",  # recursive
    "? [a, b]\n: unhashable key\n",
    "1: number key\ntrue: bool key\n",
    "set: !!set {a, b}\nomap: !!omap [a: 1, b: 2]\npairs: !!pairs [a: 1]\n",
    "bin: !!binary aGVsbG8=\n",
    "custom: !thing value\n",
    "date: 2024-02-30\n",
    "dup: 1\ndup: 2\n",
    "- a list\n- at the top\n",
    "just a string\n",
    "",
    "a: [unclosed\n",
]


def _load(text: str, loader: type) -> str:
    """The value as ``repr`` shows it (which also shows a list holding itself), or the error."""
    try:
        return repr(yaml.load(text, Loader=loader))
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"


@pytest.mark.parametrize("text", FRONT_MATTERS)
def test_front_matter_loads_as_with_pyyaml(text: str):
    """``FrontMatterLoader`` builds usual values itself and the rest through PyYAML: always the
    same values, and the same errors, as PyYAML's safe loader."""
    assert _load(text, FrontMatterLoader) == _load(text, yaml.CSafeLoader)


def test_usual_front_matter_is_built_without_pyyaml_constructor(monkeypatch):
    def refuse(*_args: object) -> None:
        raise AssertionError("built by PyYAML's constructor")

    monkeypatch.setattr(yaml.CSafeLoader, "construct_document", refuse)
    for text in FRONT_MATTERS[:3]:  # string keys, lists, mappings, strings, dates, numbers
        assert isinstance(yaml.load(text, Loader=FrontMatterLoader), dict)


def test_every_corpus_front_matter_loads_as_with_pyyaml():
    texts = []
    for path in sorted(p for p in CORPUS.rglob("*") if p.is_file()):
        try:
            document = parse_document(path.read_bytes())
        except DocumentError:  # broken YAML: the same errors are compared above
            continue
        if document is not None:
            texts.append(document.front_matter_text)
    assert len(texts) > 100
    for text in texts:
        assert _load(text, FrontMatterLoader) == _load(text, yaml.CSafeLoader), text
