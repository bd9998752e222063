"""The store: the single source of truth for what was seen, published and announced."""
