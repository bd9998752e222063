"""The announce tests build on the engine tests' folder fixture and helpers."""

from engine.conftest import at, content, document, make_config

__all__ = ["at", "content", "document", "make_config"]
