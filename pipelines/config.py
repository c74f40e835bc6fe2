"""The settings the definitions are built from, read once when the code location loads: the partitions'
start and time zone and the attribution window's partition mapping are fixed per deployment; a bad value
stops the load with one line naming the variable."""

from __future__ import annotations

from chatsales.settings import load_settings

SETTINGS = load_settings()
