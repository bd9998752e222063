"""The real corpus (``../shared/corpus`` beside the repository), built once per session."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from . import reference
from .helpers import BASE_URL, NOW, CorpusBuild

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
CORPUS = SHARED / "corpus" / "numerique.gouv.fr"
ATOM_RNG = SHARED / "validators" / "atom.rng"

# The issue's own command (one folder), and all three folders, where _publications has the
# documents with broken YAML.
BUILDS = {
    "actualites": ("_actualites",),
    "all": ("_actualites", "_communiques", "_publications"),
}


@pytest.fixture(scope="session")
def atom_rng() -> Path:
    assert ATOM_RNG.is_file(), f"the RELAX NG schema is missing: {ATOM_RNG}"
    return ATOM_RNG


@pytest.fixture(scope="session", params=sorted(BUILDS))
def corpus(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    run_cli: Callable[..., Any],
) -> CorpusBuild:
    assert CORPUS.is_dir(), f"the shared corpus is missing: {CORPUS}"
    folders = [(CORPUS / name).resolve() for name in BUILDS[request.param]]
    work = tmp_path_factory.mktemp(f"corpus-{request.param}")
    out = work / "OUT"
    args: list[str | Path] = ["build", "--base-url", BASE_URL, "--output", out, "--now", NOW]
    for folder in folders:
        args += ["--content", folder]
    result = run_cli(*args, cwd=work)
    expected = reference.read_site(folders, BASE_URL, datetime.fromisoformat(NOW))
    return CorpusBuild(request.param, result.code, result.stderr, out, expected)
