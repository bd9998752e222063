"""The engine: the content folder read into the catalog and rendered, change by change.

``build``, ``check`` and the worker all run the same ``Pipeline`` (docs/architecture.md).
"""
