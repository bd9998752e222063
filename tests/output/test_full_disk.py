"""A build into a full disk: one line naming the file and the OS error, exit 2, and the store
not ahead of the output (it records nothing of a build whose files were not all written).

The disk is a real 3 MB tmpfs (mounting needs root, as in CI; elsewhere the test is skipped).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from sqlalchemy import func, select

from syndicator.store import records
from syndicator.store.database import open_engine
from syndicator.store.schema import documents


@pytest.fixture
def full_disk(tmp_path: Path):
    mount = tmp_path / "full"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_a_build_into_a_full_disk_says_which_file_and_exits_2(tmp_path, full_disk, run_cli):
    posts = tmp_path / "_posts"
    posts.mkdir()
    body = "Un paragraphe de texte assez long pour remplir la page. " * 60
    for n in range(300):
        (posts / f"doc{n}.md").write_text(
            f"---\ntitle: Doc {n}\ndate: 2024-01-{n % 28 + 1:02d}\ntags: [t{n % 40}]\n---\n\n{body}\n"
        )
    url = f"sqlite:///{tmp_path / 'var' / 's.db'}"
    result = run_cli(
        "build",
        "--content",
        posts,
        "--output",
        full_disk / "out",
        "--base-url",
        "https://example.org",
        cwd=tmp_path,
        env={"SYNDICATOR_STORE_URL": url},
    )
    assert result.code == 2, result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith(f"syndicator: {full_disk / 'out'}/")
    assert line.endswith(": No space left on device")
    assert "/." not in line  # the feed's name, not its hidden temporary file
    engine = open_engine(url)
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(documents)).scalar() == 0
        assert records.get_setting(connection, records.LAST_SCAN) is None
    engine.dispose()
