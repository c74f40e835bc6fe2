"""Validation against the data contract: every bad row becomes a reject that names the source, where it
was (file:line, table, API page), its key and the problem, and is removed before anything is computed.

A reader builds a `Checks` over its raw rows (all text), adds vectorised checks in order, and splits:
the first failing check of a row is its reason. A source that cannot be read at all raises SourceError.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from chatsales import schema
from chatsales.arrays import is_in


class SourceError(RuntimeError):
    """A source that cannot be read at all: the run fails with the source's name and what is wrong."""


class SourceSetupError(SourceError):
    """A source set up wrong (a missing file or folder, missing tables or columns): trying again cannot help,
    so the run fails at once instead of after its network retries."""


@dataclass
class SourceFrames:
    """What a reader returns: valid frames (schema shapes) and the rejects."""

    frames: dict[str, pd.DataFrame]
    rejects: pd.DataFrame = field(default_factory=lambda: schema.empty(schema.REJECTS))


def rejects_frame(source: str, location, record_key, reason, rows=None) -> pd.DataFrame:
    """Rejects; `rows`: how many source rows each stands for (a file rejected whole counts by its rows)."""
    frame = pd.DataFrame({"source": source, "location": location, "record_key": record_key, "reason": reason})
    out = schema.conform(frame, schema.REJECTS) if len(frame) else schema.empty(schema.REJECTS)
    return out if rows is None else out.assign(rows=pd.Series(rows, dtype="int64").to_numpy())


def concat_rejects(parts: Iterable[pd.DataFrame]) -> pd.DataFrame:
    parts = [p for p in parts if len(p)]
    return pd.concat(parts, ignore_index=True) if parts else schema.empty(schema.REJECTS)


def _shown(values: pd.Series) -> pd.Series:
    """A failing raw value as a reason shows it: its shape only, letters as x and digits as 9, quoted and
    shortened (`missing` for none), so that an email or a phone in the wrong field never reaches the rejects
    table, the logs or the console: '2026-13-45' → '9999-99-99', 'ann@x.org' → 'xxx@x.xxx'."""
    text = values.astype("str").str.slice(0, 40).str.replace(r"[^\W\d_]", "x", regex=True)
    return ("'" + text.str.replace(r"\d", "9", regex=True) + "'").fillna("missing").astype(object)


EARLIEST = pd.Timestamp("2000-01-01", tz="UTC")
MAX_AMOUNT = 1_000_000.0  # the default of CHATSALES_MAX_AMOUNT


def latest_sane() -> pd.Timestamp:
    """The latest instant a source row may carry: the end of tomorrow (UTC). Later is a typo or a sentinel
    (9999-12-31) that would overflow the day arithmetic."""
    return pd.Timestamp.now(tz="UTC").normalize() + pd.Timedelta(days=2)


_PLAIN = ("string", "integer", "floating", "mixed-integer-float", "decimal", "empty")


class Checks:
    """Vectorised row checks over one raw table; the first failing check gives the row's reason."""

    def __init__(self, raw: pd.DataFrame, source: str, location: pd.Series | str, key: pd.Series | str):
        self.raw = raw.reset_index(drop=True)
        n = len(self.raw)
        self.source = source
        self.location = location if isinstance(location, pd.Series) else pd.Series([location] * n, dtype=object)
        self.key = key if isinstance(key, pd.Series) else self.raw[key] if key in self.raw else pd.Series([None] * n)
        self.reason = pd.Series([None] * n, dtype=object)
        self.parsed: dict[str, pd.Series] = {}

    def fail(self, mask, message: str, shown: pd.Series | None = None) -> None:
        """Rows of `mask` not yet rejected get `message` (followed by their raw value when `shown` is given)."""
        mask = np.asarray(mask, dtype=bool) & self.reason.isna().to_numpy()
        if mask.any():
            self.reason[mask] = message if shown is None else (message + " " + _shown(shown[mask])).to_numpy()

    def col(self, name: str) -> pd.Series:
        if name not in self.raw:
            return pd.Series([None] * len(self.raw), dtype=object)
        values = self.raw[name]
        if values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
            return values.where(values.astype("str").str.strip().ne(""), None)
        return values

    def required(self, *names: str) -> None:
        for name in names:
            self.fail(self.col(name).isna(), f"{name}: missing")

    def timestamp(self, name: str, *, required: bool, naive_tz: str = "UTC") -> pd.Series:
        """ISO 8601; with an offset that instant, without it `naive_tz` local time (UTC by default)."""
        raw = self.col(name)
        if required:
            self.fail(raw.isna(), f"{name}: missing")
        parsed = parse_instants(raw, naive_tz)
        self.fail(raw.notna() & parsed.isna(), f"{name}: not a valid ISO 8601 timestamp", raw)
        latest = latest_sane()
        insane = parsed.notna() & ((parsed < EARLIEST) | (parsed >= latest))
        self.fail(insane, f"{name}: outside the sane range {EARLIEST.date()}..{(latest - pd.Timedelta(days=1)).date()}")
        parsed = self.parsed[name] = parsed.mask(insane)
        return parsed

    def enum(self, name: str, allowed: Iterable[str], *, required: bool = True) -> None:
        raw = self.col(name)
        if required:
            self.fail(raw.isna(), f"{name}: missing")
        self.fail(raw.notna() & ~raw.astype(str).isin(list(allowed)), f"{name}: unknown value", raw)

    def number(
        self,
        name: str,
        *,
        required: bool,
        minimum: float | None = None,
        integer: bool = False,
        maximum: float | None = None,
    ) -> pd.Series:
        """A finite number; with `maximum`, its absolute value at most that (an amount above
        CHATSALES_MAX_AMOUNT is a typo or an overflow, never a sale)."""
        raw = self.col(name)
        if required:
            self.fail(raw.isna(), f"{name}: missing")
        parsed = pd.to_numeric(raw.astype(object), errors="coerce").astype("float64")
        if raw.dtype == object and pd.api.types.infer_dtype(raw, skipna=True) not in _PLAIN:
            # JSON true/false would pass for 1 and 0
            parsed = parsed.mask(raw.map(lambda v: isinstance(v, bool)).astype(bool))
        self.fail(raw.notna() & (parsed.isna() | ~np.isfinite(parsed.fillna(0))), f"{name}: not a number", raw)
        if integer:
            self.fail(parsed.notna() & (parsed != parsed.round()), f"{name}: not a whole number", raw)
        if minimum is not None:
            self.fail(parsed < minimum, f"{name}: below {minimum:g}", raw)
        if maximum is not None:
            self.fail(parsed.abs() > maximum, f"{name}: above CHATSALES_MAX_AMOUNT={maximum:g}")
        parsed = self.parsed[name] = parsed.where(np.isfinite(parsed.fillna(0)) & ~(parsed.abs() > (maximum or np.inf)))
        return parsed

    def boolean(self, name: str) -> pd.Series:
        """true/false, t/f, 1/0 (text or numbers, as SQLite and PostgreSQL give them)."""
        raw = self.col(name)
        if raw.dtype == bool:
            parsed = raw
        else:
            table = {
                "1": True,
                "true": True,
                "t": True,
                "0": False,
                "false": False,
                "f": False,
                "1.0": True,
                "0.0": False,
            }
            parsed = raw.astype("str").str.strip().str.lower().map(table)
        self.fail(parsed.isna(), f"{name}: not a boolean", raw)
        self.parsed[name] = parsed.fillna(False).astype(bool)
        return self.parsed[name]

    def unique(self, *names: str) -> None:
        dup = self.raw.duplicated(list(names), keep="first") & self.reason.isna().to_numpy()
        self.fail(dup, "duplicate " + "+".join(names) + " (the first one read is kept)")

    def member_of(self, name: str, valid: pd.Series | set, what: str, *, nullable: bool = False) -> None:
        raw = self.col(name)
        known = is_in(raw, valid)
        self.fail(~known & (raw.notna() if nullable else True), f"{name}: unknown {what}", raw)

    @property
    def ok(self) -> np.ndarray:
        return self.reason.isna().to_numpy()

    def rejects(self) -> pd.DataFrame:
        bad = ~self.ok
        key = self.key.astype(object).where(self.key.notna(), None)
        return rejects_frame(
            self.source, self.location[bad].to_numpy(), key[bad].to_numpy(), self.reason[bad].to_numpy()
        )


NOT_UTF8 = r"[\udc80-\udcff]"  # bytes that are not UTF-8, decoded with surrogateescape


def read_csv_rows(
    file: Path, columns: list[str], source: str, key: str | None = None, from_byte: int = 0
) -> tuple[pd.DataFrame | None, pd.DataFrame]:
    """One CSV file read defensively: (rows as text with a `_location` column, rejects).

    A line that is not UTF-8 or has more or fewer fields than the header is a reject of that line; the other
    lines are read. An empty file, a header lacking some of `columns` or a file the csv module cannot parse
    is a reject of the whole file (frame None), named by the file. With `key`, a rejected line carries the
    value of that column when it can be read (what ties a ragged line to its receipt). With `from_byte` (the
    start of a line), only the lines from there are read, under the header, numbered as in the whole file.
    """
    data, skipped = file.read_bytes(), 0
    if from_byte:
        header_end = data.index(b"\n") + 1
        skipped = data.count(b"\n", header_end, from_byte)
        data = data[:header_end] + data[from_byte:]
    text = data.decode("utf-8", errors="surrogateescape").removeprefix("\ufeff")

    def whole_file(reason: str):
        """The file as one reject that counts by its rows (its non-blank lines after the header, at least one)."""
        lines = sum(1 for line in text.splitlines()[1:] if line.strip())
        return None, rejects_frame(source, [file.name], [None], [reason], rows=[max(lines, 1)])

    if not text.strip():
        return whole_file("empty file")
    reader = csv.reader(io.StringIO(text, newline=""))
    records, where, bad = [], [], []
    try:
        header = [h.strip() for h in next(reader)]
        missing = [c for c in columns if c not in header]
        if missing:
            return whole_file(f"file lacks columns {missing}: none of its rows were read")
        start = reader.line_num + 1 + skipped
        at = header.index(key) if key in header else None
        for record in reader:
            line, start = f"{file.name}:{start}", reader.line_num + 1 + skipped
            if not record or record == [""]:
                continue
            found = record[at] if at is not None and at < len(record) else None
            found = None if found is None or not found.strip() or re.search(NOT_UTF8, found) else found
            if len(record) != len(header):
                bad.append((line, f"line has {len(record)} fields, the header has {len(header)}", found))
            elif any(re.search(NOT_UTF8, value) for value in record):
                bad.append((line, "line is not valid UTF-8", found))
            else:
                records.append(record)
                where.append(line)
    except csv.Error as exc:
        return whole_file(f"not a readable CSV file: {exc}")
    frame = pd.DataFrame(records, columns=header, dtype=object) if records else pd.DataFrame(columns=header)
    frame = frame.loc[:, ~frame.columns.duplicated()][columns].astype("str").assign(_location=where)
    rejects = rejects_frame(source, [w for w, _, _ in bad], [k for _, _, k in bad], [r for _, r, _ in bad])
    return frame, rejects


def parse_instants(raw: pd.Series, naive_tz: str = "UTC") -> pd.Series:
    """ISO 8601 text (or datetimes) → UTC. Text without an offset is local time of `naive_tz`: in the
    repeated autumn hour its first occurrence; a time that does not exist (spring gap) is NaT."""
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        ts = raw if isinstance(raw.dtype, pd.DatetimeTZDtype) else raw.dt.tz_localize("UTC")
        return ts.dt.tz_convert("UTC").astype(schema.TS)
    text = raw
    as_str = raw.astype("str")
    has_offset = as_str.str.contains(r"(?:Z|[+-]\d\d:?\d\d)$", regex=True, na=False).to_numpy()
    out = pd.Series(pd.NaT, index=raw.index, dtype=schema.TS)
    if has_offset.any():
        out[has_offset] = pd.to_datetime(as_str[has_offset], utc=True, format="ISO8601", errors="coerce")
    naive = ~has_offset & text.notna().to_numpy()
    if naive.any():
        local = pd.to_datetime(as_str[naive], format="ISO8601", errors="coerce")
        if naive_tz == "UTC":
            out[naive] = local.dt.tz_localize("UTC")
        else:
            first = np.ones(int(naive.sum()), dtype=bool)  # ambiguous → DST side = first occurrence
            out[naive] = local.dt.tz_localize(naive_tz, ambiguous=first, nonexistent="NaT").dt.tz_convert("UTC")
    return out.astype(schema.TS)


def text_column(values: pd.Series) -> pd.Series:
    """A text column as the schema wants it: str dtype, blanks and None as NA, values otherwise as given."""
    text = values.astype("str")
    return text.mask(text.str.strip().eq("")).astype("str")
