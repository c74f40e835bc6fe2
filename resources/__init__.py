"""Dagster resources: one module per outside system (the chat platform, web orders, store sales, marketing
touchpoints, the lake, the reporting database) and the settings. Each knows where its system is and how to
reach it; the reading, checking and computing is done by the `chatsales` package."""
