"""Vectorised text for the demo files: ids, timestamps and decimal amounts built as fixed-width byte
matrices or Arrow string kernels, never one Python string at a time, so millions of rows format in well under
a second. Instants are int64 microseconds since the epoch (UTC); a negative value means missing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

US = 1_000_000
MIN, HOUR, DAY = 60 * US, 3600 * US, 86_400 * US


def _strings(matrix: np.ndarray, missing: np.ndarray | None = None) -> pa.Array:
    """Rows of an (n, width) uint8 ASCII matrix as an Arrow string array (zero copy of the bytes)."""
    n, width = matrix.shape
    offsets = pa.py_buffer(np.arange(0, width * (n + 1), width, dtype=np.int32))
    data = pa.py_buffer(np.ascontiguousarray(matrix).tobytes())
    validity = None
    if missing is not None and missing.any():
        validity = pa.py_buffer(np.packbits(~missing, bitorder="little").tobytes())
    return pa.Array.from_buffers(pa.string(), n, [validity, offsets, data])


def _put_digits(matrix: np.ndarray, column: int, values: np.ndarray, width: int) -> None:
    """Writes `values` zero-padded to `width` digits into matrix[:, column:column+width]."""
    values = values.astype(np.int64)
    for k in range(width - 1, -1, -1):
        matrix[:, column + k] = 48 + values % 10
        values = values // 10


def ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """`prefix` + zero-padded numbers, e.g. ids("cr-", [7], 6) -> "cr-000007"."""
    numbers = np.asarray(numbers)
    head = np.frombuffer(prefix.encode(), dtype=np.uint8)
    matrix = np.empty((len(numbers), len(head) + width), dtype=np.uint8)
    matrix[:, : len(head)] = head
    _put_digits(matrix, len(head), numbers, width)
    return _strings(matrix)


def id_width(count: int) -> int:
    """Digits for ids numbered 0..count-1: at least 6, so the small and big demos look alike."""
    return max(6, len(str(max(count - 1, 0))))


def _stamp(us: np.ndarray, date_sep: int, fraction: bool) -> np.ndarray:
    """'YYYY-MM-DD?HH:MM:SS[.ffffff]' as a byte matrix of the instants' own wall clock (no zone)."""
    us = np.where(us < 0, 0, us).astype(np.int64)
    days = (us // DAY).astype("datetime64[D]")
    months = days.astype("datetime64[M]")
    year = months.astype("datetime64[Y]").astype(np.int64) + 1970
    month = months.astype(np.int64) % 12 + 1
    day = (days - months.astype("datetime64[D]")).astype(np.int64) + 1
    in_day = us % DAY
    seconds = in_day // US
    m = np.empty((len(us), 26 if fraction else 19), dtype=np.uint8)
    _put_digits(m, 0, year, 4)
    m[:, 4] = m[:, 7] = ord("-")
    _put_digits(m, 5, month, 2)
    _put_digits(m, 8, day, 2)
    m[:, 10] = date_sep
    _put_digits(m, 11, seconds // 3600, 2)
    m[:, 13] = m[:, 16] = ord(":")
    _put_digits(m, 14, seconds // 60 % 60, 2)
    _put_digits(m, 17, seconds % 60, 2)
    if fraction:
        m[:, 19] = ord(".")
        _put_digits(m, 20, in_day % US, 6)
    return m


def db_timestamps(us: np.ndarray) -> pa.Array:
    """The chat database's TIMESTAMP text: UTC without zone, 'YYYY-MM-DD HH:MM:SS.ffffff'; null if missing."""
    us = np.asarray(us, dtype=np.int64)
    return _strings(_stamp(us, ord(" "), True), us < 0)


def utc_offsets(us: np.ndarray, timezone: str) -> np.ndarray:
    """The timezone's UTC offset at each instant, in microseconds."""
    us = np.asarray(us, dtype=np.int64)
    wall = pd.DatetimeIndex(us.astype("datetime64[us]"), tz="UTC").tz_convert(timezone).tz_localize(None)
    return wall.to_numpy().astype("datetime64[us]").astype(np.int64) - us


def iso_timestamps(us: np.ndarray, timezone: str, style: np.ndarray) -> pa.Array:
    """ISO 8601 to the second, per row: style 0 = local time with its offset ('+01:00'), 1 = UTC with 'Z',
    2 = local wall time without offset (the POS export habit)."""
    us = np.asarray(us, dtype=np.int64)
    offset = utc_offsets(us, timezone)
    utc = style == 1
    wall = np.where(utc, us, us + offset)
    m = _stamp(wall, ord("T"), False)
    tail = np.zeros((len(us), 6), dtype=np.uint8)
    minutes = np.abs(offset) // MIN
    tail[:, 0] = np.where(offset < 0, ord("-"), ord("+"))
    _put_digits(tail, 1, minutes // 60, 2)
    tail[:, 3] = ord(":")
    _put_digits(tail, 4, minutes % 60, 2)
    with_offset = _strings(np.hstack([m, tail]))
    bare = _strings(m)
    zulu = pc.binary_join_element_wise(bare, "Z", "")
    return pc.if_else(pa.array(style == 0), with_offset, pc.if_else(pa.array(utc), zulu, bare))


def decimals(cents: np.ndarray) -> pa.Array:
    """Integer cents as decimal strings with two places: -1234 -> '-12.34'."""
    cents = np.asarray(cents, dtype=np.int64)
    size = np.abs(cents)
    units = pc.cast(pa.array(size // 100), pa.string())
    frac = ids(".", size % 100, 2)
    sign = pc.if_else(pa.array(cents < 0), "-", "")
    return pc.binary_join_element_wise(sign, units, frac, "")


def integers(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(np.asarray(values, dtype=np.int64)), pa.string())


def labels(codes: np.ndarray, names) -> pa.Array:
    """Categorical text: names[codes], null where the code is negative."""
    codes = np.asarray(codes, dtype=np.int64)
    missing = codes < 0
    indices = pa.array(np.where(missing, 0, codes).astype(np.int32), mask=missing)
    return pa.DictionaryArray.from_arrays(indices, pa.array(list(names), pa.string())).cast(pa.string())


def take(values: pa.Array, index: np.ndarray) -> pa.Array:
    """values[index], null where the index is negative."""
    index = np.asarray(index, dtype=np.int64)
    missing = index < 0
    return values.take(pa.array(np.where(missing, 0, index), mask=missing))


def quoted(values: pa.Array) -> pa.Array:
    """A JSON string value, or null: values are plain ASCII ids, emails and names (nothing to escape)."""
    return pc.coalesce(pc.binary_join_element_wise('"', values, '"', ""), "null")


def join(*parts, sep: str = "") -> pa.Array:
    """Element-wise concatenation of string arrays and constants (a null part makes the row null)."""
    return pc.binary_join_element_wise(*parts, sep)


def line_buffer(lines: pa.Array) -> tuple[np.ndarray, memoryview]:
    """(offsets, bytes) of a string array whose rows end with their newline: rows a..b of the array are
    data[offsets[a]:offsets[b]], written to a file without building Python strings."""
    lines = lines.cast(pa.string())
    if isinstance(lines, pa.ChunkedArray):
        lines = lines.combine_chunks()
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[lines.offset : lines.offset + len(lines) + 1]
    return offsets, memoryview(lines.buffers()[2])
