"""The store: the single source of truth for what was seen, published and announced."""


class StoreError(Exception):
    """The store cannot be opened or is held by another worker."""
