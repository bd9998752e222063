"""Reading stage: content folder → documents → items. Knows nothing of feeds or delivery."""
