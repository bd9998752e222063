"""Allow ``python -m syndicator`` where the console script is not on PATH."""

from syndicator.cli import main

raise SystemExit(main())
