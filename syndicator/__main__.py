"""Allow ``python -m syndicator`` where the console script is not on PATH."""

from syndicator.cli import run

run()
