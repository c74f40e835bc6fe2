"""The chatroom key the KPIs join on: stable across versions (it is stored), added wherever facts lack it,
and a clash between two ids is an error, never a silent merge."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from chatsales.facts import Facts, check_room_keys, room_keys


def test_room_keys_are_pinned():
    """Stored keys of earlier days must keep matching: a library upgrade that changed the hash would fail
    here, not split every chatroom of the period query in two."""
    ids = pd.Series(["cr-000001", "a1b2c3d4-0000-4000-8000-000000000000", "é"], dtype="str")
    assert room_keys(ids).tolist() == [452816903610850589, 8845694255427466624, -1537934940950697753]
    assert room_keys(ids.astype(object)).tolist() == room_keys(ids).tolist()


def test_facts_get_the_room_key_when_missing_or_incomplete():
    rooms = pd.DataFrame({"chatroom_id": ["cr-1", "cr-2"]})
    messages = pd.DataFrame({"chatroom_id": ["cr-2", "cr-1"], "room": [np.nan, 7.0]})  # rows of an older version
    ratings = pd.DataFrame({"chatroom_id": ["cr-1"], "room": np.array([123], dtype="int64")})
    others = {name: pd.DataFrame() for name in ("requests", "hook_events", "member_sessions", "orders")}
    facts = Facts.from_tables({"chatrooms": rooms, "messages": messages, "ratings": ratings, **others})
    assert facts.chatrooms["room"].tolist() == room_keys(rooms["chatroom_id"]).tolist()
    assert facts.messages["room"].tolist() == room_keys(pd.Series(["cr-2", "cr-1"])).tolist()
    assert facts.ratings["room"].tolist() == [123]  # already keyed: kept as stored
    assert "room" not in rooms.columns  # the caller's frame is not modified


def test_two_ids_with_one_key_are_an_error():
    rooms = pd.DataFrame({"chatroom_id": ["cr-1", "cr-2", "cr-3"], "room": [5, 5, 6]})
    with pytest.raises(ValueError, match=r"\['cr-1', 'cr-2'\] have the same 64-bit room key"):
        check_room_keys(rooms)
    check_room_keys(pd.DataFrame({"chatroom_id": ["cr-1", "cr-3"], "room": [5, 6]}))


def test_streams_of_coded_text_concatenate_across_days():
    """Low-cardinality text is stored dictionary-coded: a day where it is all null, a day with values and an
    empty day decode together, as a categorical holding the same values."""
    from datetime import date

    from chatsales.fact_streams import decode_days, encode_days

    d1, d2 = date(2026, 3, 1), date(2026, 3, 2)
    first = pd.DataFrame({"day": [d1], "sender": [None], "n": [1]})
    second = pd.DataFrame({"day": [d2, d2], "sender": pd.Series(["visitor", "member"], dtype="str"), "n": [2, 3]})
    streams = [
        s for frame, day in ((first, d1), (second, d2), (second.iloc[0:0], d2)) for _, _, s in encode_days(frame, [day])
    ]
    out = decode_days(streams)
    assert isinstance(out["sender"].dtype, pd.CategoricalDtype)
    assert out["sender"].astype(object).where(out["sender"].notna(), None).tolist() == [None, "visitor", "member"]
    assert out["sender"].eq("visitor").tolist() == [False, True, False]
    assert out["n"].tolist() == [1, 2, 3] and out["day"].tolist() == [d1, d2, d2]


def test_skipped_stream_columns_are_left_out_on_every_day_whatever_its_columns():
    """decode_days never decompresses a skipped column: it finds the fields by name in each day's own
    schema, so a day written before a column existed decodes beside one that has it."""
    from datetime import date

    from chatsales.fact_streams import decode_days, encode_days

    d1, d2 = date(2026, 3, 1), date(2026, 3, 2)
    old = pd.DataFrame({"day": [d1], "a": [1], "b": pd.Series(["x"], dtype="str")})
    new = pd.DataFrame({"day": [d2, d2], "a": [2, 3], "b": pd.Series(["y", "z"], dtype="str"), "c": [5.0, 6.0]})
    streams = [s for frame, day in ((old, d1), (new, d2)) for _, _, s in encode_days(frame, [day])]
    without_b = decode_days(streams, skip=("b",))
    assert list(without_b.columns) == ["day", "a", "c"]
    assert without_b["a"].tolist() == [1, 2, 3] and without_b["c"].isna().tolist() == [True, False, False]
    assert without_b["c"].tolist()[1:] == [5.0, 6.0]
    without_c = decode_days(streams, skip=("c", "day"))
    assert list(without_c.columns) == ["a", "b"] and without_c["b"].tolist() == ["x", "y", "z"]
