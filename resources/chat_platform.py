"""The chat platform's database (CHATSALES_CHAT_DB_URL), any SQLAlchemy URL."""

from __future__ import annotations

import dagster as dg


class ChatPlatformResource(dg.ConfigurableResource):
    """Where the chat platform's tables are; chatsales.extract.chat reads them."""

    url: str
