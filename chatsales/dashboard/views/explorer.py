"""Page: see render.explorer_page."""

from chatsales.dashboard.render import explorer_page

explorer_page()
