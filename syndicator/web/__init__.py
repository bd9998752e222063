"""HTTP side of syndicator: the built output folder served to feed readers and aggregators."""
