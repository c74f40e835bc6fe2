"""The requests a night's state update needs are read from the days that hold them, not found by scanning every
day of the history; what none of those days holds is still found, by the scan."""

from __future__ import annotations

import pandas as pd

from chatsales import schema
from chatsales.conversation_state import ROOM_STATE, requests_of
from chatsales.lake.datasets import CHAT_DATASETS
from chatsales.lake.store import Lake

TZ = "Europe/Paris"
REQUESTS = CHAT_DATASETS["conversation_requests"]


def _requests(*rows: tuple[str, str]) -> pd.DataFrame:
    frame = schema.empty(schema.CHAT_TABLES["conversation_requests"]).reindex(range(len(rows)))
    frame["request_id"], frame["visitor_id"], frame["source"] = [r for r, _ in rows], "v", "direct"
    frame["created_at"] = pd.to_datetime([c for _, c in rows], utc=True)
    return frame.astype(schema.CHAT_TABLES["conversation_requests"])


def _rooms(*rows: tuple[str, str, str | None]) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "chatroom_id": [c for c, _, _ in rows],
            "request_id": [r for _, r, _ in rows],
            "started_at": pd.to_datetime([s for _, _, s in rows], utc=True),
            "request_created_at": pd.NaT,
            "is_internal": False,
            "is_blocked": False,
            "answered_24h": False,
        }
    )
    return pd.concat([schema.empty(ROOM_STATE), frame], ignore_index=True).astype(ROOM_STATE)


def test_requests_are_read_from_the_days_that_hold_them(tmp_path):
    lake = Lake(tmp_path, TZ)
    lake.upsert(
        REQUESTS,
        _requests(
            ("rq-old", "2025-01-10T10:00:00Z"),  # a year before: only the scan finds it
            ("rq-state", "2025-06-01T10:00:00Z"),  # the state's chatroom knows its creation
            ("rq-wait", "2026-03-25T10:00:00Z"),  # waited three days for its chatroom
            ("rq-other", "2026-03-26T10:00:00Z"),  # not asked for
            ("rq-night", "2026-03-28T10:00:00Z"),
        ),
    )
    read = lake.read_days(REQUESTS, pd.Timestamp("2026-03-28").date(), pd.Timestamp("2026-03-28").date())
    state = _rooms(("cr-1", "rq-state", "2025-06-01T11:00:00Z")).assign(
        request_created_at=pd.Timestamp("2025-06-01T10:00:00Z")
    )
    new = _rooms(("cr-2", "rq-wait", "2026-03-28T09:00:00Z"), ("cr-3", "rq-old", "2026-03-28T09:30:00Z"))
    ids = pd.Series(["rq-night", "rq-state", "rq-wait", "rq-old", "rq-never"])

    opened: list[str] = []
    original = lake.read_matching
    lake.read_matching = lambda ds, column, values: (
        opened.extend(sorted(values.to_pylist())) or original(ds, column, values)
    )
    found = requests_of(lake, ids, read, state, new)
    assert sorted(found["request_id"]) == ["rq-night", "rq-old", "rq-state", "rq-wait"]
    assert opened == ["rq-never", "rq-old"]  # only what no known or expected day held is scanned for
    scanned = original(REQUESTS, "request_id", ids)
    pd.testing.assert_frame_equal(
        found.sort_values("request_id").reset_index(drop=True),
        scanned.sort_values("request_id").reset_index(drop=True),
    )
