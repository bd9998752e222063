"""syndicator: RSS, Atom and JSON Feed for a Jekyll-style content folder, served and pushed."""

__version__ = "0.1.0"
