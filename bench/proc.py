"""A process's name and CPU time from Linux's /proc, for the benches that account the work of
a run by the processes that did it."""

from __future__ import annotations

import os
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def name_and_cpu(pid: int | str) -> tuple[str, float]:
    """The command name and user + system CPU seconds so far of process ``pid``
    (``/proc/<pid>/stat``; the name may hold spaces and parentheses, so it is cut at the last
    ``)``). Raises OSError once the process is gone."""
    text = Path(f"/proc/{pid}/stat").read_text()
    name = text[text.index("(") + 1 : text.rindex(")")]
    fields = text[text.rindex(")") + 2 :].split()
    return name, (int(fields[11]) + int(fields[12])) / TICKS
