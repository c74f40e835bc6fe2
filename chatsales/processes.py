"""Whether a process of this host still runs: what tells a killed writer's leftovers from a live one's."""

from __future__ import annotations

import os


def is_running(pid: int) -> bool:
    """True while process `pid` exists (another user's process counts: it cannot be signalled, yet runs)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
