"""The ``site`` fixture: an empty content folder in ``tmp_path`` and a way to build it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .helpers import Site


@pytest.fixture
def site(tmp_path: Path, write_doc: Callable[..., Path], run_cli: Callable[..., Any]) -> Site:
    return Site(tmp_path, write_doc, run_cli)
