"""Splitting a file's bytes into front matter and body, with errors that name the line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from frontmatter.default_handlers import YAMLHandler

from syndicator.content.markup import strip_xml_forbidden

_HANDLER = YAMLHandler()
_BOM = "\ufeff"
_STR, _MAP, _SEQ = (f"tag:yaml.org,2002:{name}" for name in ("str", "map", "seq"))


class _Unusual(Exception):
    """A node the front-matter loader leaves to PyYAML's own constructor."""


class FrontMatterLoader(yaml.CSafeLoader):
    """PyYAML's C safe loader, with the values of the usual front matter built directly.

    Front matter is a mapping of string keys to strings, lists and a few dates, numbers or
    booleans. PyYAML's constructor builds each value through generic machinery (a generator
    per collection, a table of constructors, memos for aliases) that was a third of parsing a
    document's YAML (37 µs). Here mappings with string keys, sequences and strings are built
    in one walk, and every other scalar by PyYAML itself. A document holding anything else (a
    merge key ``<<``, a collection used twice through an alias, another tag) is built by
    PyYAML from the start, so every document loads as with ``CSafeLoader``."""

    def construct_document(self, node: yaml.Node) -> Any:
        try:
            data = self._value(node, set())
        except _Unusual:
            self.constructed_objects = {}
            return super().construct_document(node)
        self.constructed_objects = {}
        return data

    def _value(self, node: yaml.Node, seen: set[int]) -> Any:
        kind = type(node)
        if kind is yaml.ScalarNode:
            return node.value if node.tag == _STR else self.construct_object(node)
        if id(node) in seen:
            raise _Unusual
        seen.add(id(node))
        if kind is yaml.MappingNode and node.tag == _MAP:
            data: dict[str, Any] = {}
            for key, value in node.value:
                if type(key) is not yaml.ScalarNode or key.tag != _STR:
                    raise _Unusual
                data[key.value] = self._value(value, seen)
            return data
        if kind is yaml.SequenceNode and node.tag == _SEQ:
            return [self._value(item, seen) for item in node.value]
        raise _Unusual


class DocumentError(Exception):
    """A document that cannot be read: the line (1-based, in the file) and the reason."""

    def __init__(self, line: int | None, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Document:
    front_matter: dict[str, Any]
    front_matter_text: str
    body: str
    # Lines before the front-matter text starts, to turn a YAML line into a file line.
    line_offset: int

    def line_of(self, key: str) -> int | None:
        """The file line where a top-level key is written, for messages about its value."""
        prefix = f"{key}:"
        for number, line in enumerate(self.front_matter_text.split("\n")):
            if line.startswith(prefix):
                return number + self.line_offset + 1
        return None


def looks_like_document(head: bytes) -> bool:
    """Cheap test on the first bytes, so images and PDFs are never decoded."""
    return head.removeprefix(b"\xef\xbb\xbf").startswith(b"---")


def parse_document(data: bytes) -> Document | None:
    """The document in ``data``, or None when the file has no front matter (not a document)."""
    if not looks_like_document(data):
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line: int | None = data.count(b"\n", 0, exc.start) + 1
        raise DocumentError(line, f"not valid UTF-8 (byte 0x{data[exc.start]:02x})") from exc
    # Characters XML forbids are dropped from every output anyway; dropping them before YAML
    # sees them keeps a stray control character from costing the whole document.
    text = strip_xml_forbidden(text.removeprefix(_BOM).replace("\r\n", "\n"))
    start = _HANDLER.FM_BOUNDARY.match(text) if _HANDLER.FM_BOUNDARY else None
    if start is None:
        return None
    try:
        fm_text, body = _HANDLER.split(text)
    except ValueError as exc:
        raise DocumentError(1, "front matter has no closing '---' line") from exc
    line_offset = text.count("\n", 0, start.end())
    try:
        meta = _HANDLER.load(fm_text, Loader=FrontMatterLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + line_offset + 1 if mark else None
        reason = " ".join(str(exc.problem or exc).split())
        if exc.context and exc.context_mark and exc.context_mark is not mark:
            reason += f" ({exc.context} at line {exc.context_mark.line + line_offset + 1})"
        raise DocumentError(line, f"invalid YAML front matter: {reason}") from exc
    except yaml.reader.ReaderError as exc:
        # The C loader reports a byte offset, the Python one a character index: find the
        # character again instead of trusting either.
        bad = yaml.reader.Reader.NON_PRINTABLE.search(fm_text)
        line = fm_text.count("\n", 0, bad.start()) + line_offset + 1 if bad else None
        reason = f"character U+{exc.character:04X} is not allowed in YAML front matter"
        raise DocumentError(line, reason) from exc
    except yaml.YAMLError as exc:
        raise DocumentError(None, f"invalid YAML front matter: {exc}") from exc
    except ValueError as exc:
        # Well-formed YAML whose value cannot exist, such as ``date: 2024-02-30``.
        line = _unbuildable_line(fm_text)
        raise DocumentError(
            None if line is None else line + line_offset + 1,
            f"invalid value in YAML front matter: {exc}",
        ) from exc
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise DocumentError(line_offset + 1, "front matter must be a mapping of keys to values")
    return Document(meta, fm_text, body, line_offset)


def _unbuildable_line(fm_text: str) -> int | None:
    """The 0-based line of the first scalar YAML parses but cannot turn into a value."""
    loader = yaml.SafeLoader(fm_text)
    try:
        pending = [loader.get_single_node()]
        while pending:
            node = pending.pop()
            if isinstance(node, yaml.ScalarNode):
                try:
                    loader.construct_object(node)
                except ValueError:
                    return node.start_mark.line
            elif isinstance(node, yaml.SequenceNode):
                pending.extend(reversed(node.value))
            elif isinstance(node, yaml.MappingNode):
                pending.extend(part for pair in reversed(node.value) for part in reversed(pair))
    finally:
        loader.dispose()
    return None
