"""Emails are needed only to match customers: they are normalised for matching and otherwise kept only as
a keyed hash (HMAC-SHA256), so no address ever reaches the reporting database."""

from __future__ import annotations

import hashlib
import hmac

import pandas as pd


def normalise_emails(emails: pd.Series) -> pd.Series:
    """Surrounding whitespace stripped, lower-cased, nothing else rewritten; empty → NA (no email)."""
    cleaned = emails.astype("str").str.strip().str.lower()
    return cleaned.mask(cleaned.eq("")).astype("str")


def hash_emails(emails: pd.Series, key: str) -> pd.Series:
    """HMAC-SHA256 (hex) of each already normalised email; NA stays NA. Hashes each distinct address once."""
    distinct = emails.dropna().unique()
    secret = key.encode()
    table = {e: hmac.new(secret, e.encode(), hashlib.sha256).hexdigest() for e in distinct}
    return emails.map(table).astype("str")


def key_fingerprint(key: str) -> str:
    """A short fingerprint that tells two keys apart without revealing either (HMAC of a fixed text)."""
    return hmac.new(key.encode(), b"chatsales key fingerprint", hashlib.sha256).hexdigest()[:16]
