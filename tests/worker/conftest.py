"""The worker tests write documents the way the engine tests do."""

from engine.conftest import document

__all__ = ["document"]
