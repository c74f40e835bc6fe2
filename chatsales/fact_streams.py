"""Facts as one Arrow IPC stream per table and day: the only stored copy, read by every period query.

Fetching facts back row by row through any Python driver costs per value; the same frames, encoded per day
as Arrow IPC (LZ4), decode at memory speed. A digest per stream lets a
publication rewrite only the days whose rows changed.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa

COMPRESSION = "lz4"


# text columns with a handful of values: stored dictionary-encoded, so they decode as pandas categoricals
# and filtering ten million messages copies one byte per row instead of the text (same values, same results)
CODED = frozenset(
    {
        "sender",
        "kind",
        "source",
        "channel",
        "touchpoint",
        "sales_channel",
        "status",
        "currency",
        "reason",
        "event",
        "category",
        "match_key",
    }
)


def _arrow(frame: pd.DataFrame) -> pa.Table:
    """The frame as Arrow, timestamps in microseconds whatever unit the frame held (rows read back from
    a database come as nanoseconds, published facts as microseconds: their days must concatenate)."""
    units = {c: "datetime64[us, UTC]" for c in frame.columns if isinstance(frame[c].dtype, pd.DatetimeTZDtype)}
    table = pa.Table.from_pandas(frame.astype(units) if units else frame, preserve_index=False)
    for i, name in enumerate(table.column_names):
        if name in CODED:
            text = table.column(i).cast(pa.large_string())  # all-null days too: one type every day
            table = table.set_column(i, name, text.dictionary_encode())
    return table


def encode_days(frame: pd.DataFrame, days: Sequence[date]) -> list[tuple[date, int, bytes]]:
    """(day, rows, stream) for each of `days`, rows in the frame's order; a day without rows gets an
    empty stream, so "this day was published with no rows" is stored too."""
    codes, found = pd.factorize(frame["day"])
    by_day = _arrow(frame).take(pa.array(np.argsort(codes, kind="stable")))  # each day's rows together
    counts = np.bincount(codes, minlength=len(found))
    starts = dict(zip(found, np.cumsum(counts) - counts))
    counts = dict(zip(found, counts))
    out = []
    options = pa.ipc.IpcWriteOptions(compression=COMPRESSION)
    for day in days:
        part = by_day.slice(int(starts.get(day, 0)), int(counts.get(day, 0)))
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, part.schema, options=options) as writer:
            writer.write_table(part)
        out.append((day, part.num_rows, sink.getvalue().to_pybytes()))
    return out


def decode_days(streams: Iterable[bytes], skip: Collection[str] = ()) -> pd.DataFrame:
    """One frame from the streams of several days, in the given order, without the columns in `skip` (never
    converted to pandas: text is what costs). A column added in a later version is null on the days written
    before it, like a column added to the row table."""
    # the system allocator: the decoded buffers are large and short-lived, and Arrow's default (mimalloc)
    # is slower at first touching that many fresh pages in a new process
    pool = pa.system_memory_pool()
    tables = [_read(stream, skip, pool) for stream in streams]
    if not tables:
        return pd.DataFrame()
    # dates stay Arrow dates (zero copy; .tolist() still gives datetime.date): a Python date object per
    # row cost more than all the rest of the decoding
    dates = {pa.date32(): pd.ArrowDtype(pa.date32())}
    table = pa.concat_tables(tables, promote_options="permissive", memory_pool=pool)
    table = table.drop_columns([column for column in skip if column in table.column_names])
    return table.to_pandas(types_mapper=dates.get, memory_pool=pool)


def _read(stream: bytes, skip: Collection[str], pool: pa.MemoryPool) -> pa.Table:
    """One stream without the columns in `skip`, which are never decompressed (message ids and chatroom ids
    are most of a year's bytes). The fields are found by name in each stream's own schema: a day written
    before a column was added has fewer."""
    options = None
    if skip:
        schema = pa.ipc.open_stream(memoryview(stream)).schema  # reads the schema message only
        keep = [i for i, name in enumerate(schema.names) if name not in skip]
        options = pa.ipc.IpcReadOptions(included_fields=keep) if len(keep) < len(schema.names) else None
    return pa.ipc.open_stream(memoryview(stream), options=options, memory_pool=pool).read_all()
