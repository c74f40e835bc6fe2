"""Which files of a source folder are new or changed since they were last read.

Stat first (name, size, mtime), hash only when the stat differs from the catalog's: a night with nothing new
reads no file content, and a file touched without a change (copied again, same bytes) is not read again.
A file that disappears from the folder is left in the lake: archiving old exports does not unpublish them.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
from pathlib import Path

import pandas as pd

FILE_COLUMNS = ["name", "size", "mtime_ns"]


def listing(folder: Path, pattern: str) -> pd.DataFrame:
    """name, size, mtime_ns of the files matching `pattern` (as pathlib's glob matches names; a missing folder
    lists nothing). One scandir, names sorted as text: after two years of daily files, pathlib's glob
    and its Path objects cost more than the stats themselves."""
    folder = Path(folder)
    if not folder.is_dir():
        return pd.DataFrame({"name": [], "size": [], "mtime_ns": []}).astype({"size": "int64", "mtime_ns": "int64"})
    with os.scandir(folder) as entries:
        found = sorted(
            (entry.name, entry.stat())
            for entry in entries
            if fnmatch.fnmatchcase(entry.name, pattern) and entry.is_file()
        )
    return pd.DataFrame(
        {
            "name": [name for name, _ in found],
            "size": [stat.st_size for _, stat in found],
            "mtime_ns": [stat.st_mtime_ns for _, stat in found],
        }
    ).astype({"size": "int64", "mtime_ns": "int64"})


def sha256(path: Path, size: int | None = None) -> str:
    """The digest of the file, or of its first `size` bytes."""
    digest, left = hashlib.sha256(), path.stat().st_size if size is None else size
    with open(path, "rb") as f:
        while left > 0 and (block := f.read(min(left, 1 << 20))):
            digest.update(block)
            left -= len(block)
    return digest.hexdigest()


def appended_from(path: Path, known_size: int, known_sha256: str | None) -> int | None:
    """Where the lines added to a file start, when the file is the one read before (its first `known_size`
    bytes hash to `known_sha256`, ending a line) with lines appended; None for any other change."""
    if not known_sha256 or known_size <= 0 or path.stat().st_size <= known_size:
        return None
    with open(path, "rb") as f:
        f.seek(known_size - 1)
        ends_a_line = f.read(1) == b"\n"
    return known_size if ends_a_line and sha256(path, known_size) == known_sha256 else None


def changed_files(folder: Path, pattern: str, known: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(files to read, files whose stat moved but whose content did not): both with name, size, mtime_ns,
    sha256, then `status` (new or changed) for the first and the known `rows` for the second. `known` is the
    catalog's rows for the source."""
    found = listing(folder, pattern)
    merged = found.merge(known.rename(columns={"size": "known_size", "mtime_ns": "known_mtime"}), on="name", how="left")
    same_stat = merged["known_size"].eq(merged["size"]) & merged["known_mtime"].eq(merged["mtime_ns"])
    suspects = merged[~same_stat.to_numpy()].copy()
    suspects["new_sha"] = [sha256(Path(folder) / name) for name in suspects["name"]]  # a loop over files
    same_content = suspects["new_sha"].eq(suspects["sha256"])
    columns = ["name", "size", "mtime_ns", "sha256"]
    touched = suspects[same_content.to_numpy()].assign(sha256=lambda f: f["new_sha"])[[*columns, "rows"]]
    to_read = suspects[~same_content.to_numpy()].assign(
        status=lambda f: f["sha256"].isna().map({True: "new", False: "changed"}), sha256=lambda f: f["new_sha"]
    )[[*columns, "status"]]
    return to_read.reset_index(drop=True), touched.reset_index(drop=True)
