"""The default view kept computed: the server computes the first page's figures (last 7 days, no filter) as it
starts and again after each publication, so the first person to open the dashboard on Monday morning does not
wait for them. Same cached functions as the pages (a visitor arriving mid-computation waits for it, once)."""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger(__name__)


def warm_once(url: str, timezone: str) -> str | None:
    """Compute the default view's figures into the pages' caches; the publication mark they are for."""
    from chatsales.dashboard import data
    from chatsales.dashboard.periods import DEFAULT_PRESET, preset_range, previous_range

    mark = data.published_mark(url)
    published = data.published_range(url, mark)
    if published is None:
        return None
    data.filter_values(url, mark)
    data.member_labels(url, mark)
    first, last = preset_range(DEFAULT_PRESET, published[1], published[0])
    data.catalog(url, timezone, first, last, (), None, None, mark)
    before = previous_range(first, last)
    if before[0] >= published[0]:
        data.card_values(url, timezone, *before, (), None, None, mark)
    return mark


def keep_warm(url: str, timezone: str, every_s: float = 30.0) -> threading.Thread:
    """A daemon thread: once Streamlit's runtime exists (its caches), warm the default view, then again
    whenever the publication mark changes."""

    def run() -> None:
        from streamlit.runtime import Runtime

        while not Runtime.exists():
            time.sleep(0.05)
        warmed = None
        while True:
            try:
                from chatsales.dashboard import data

                if data.published_mark(url) != warmed:
                    warmed = warm_once(url, timezone)
            except Exception:  # a page view shows the reason; this only saves time
                log.warning("could not compute the dashboard's default view", exc_info=True)
            time.sleep(every_s)

    thread = threading.Thread(target=run, name="chatsales-warm", daemon=True)
    thread.start()
    return thread
