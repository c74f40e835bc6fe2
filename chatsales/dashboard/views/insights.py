"""Page: see render.insights_page."""

from chatsales.dashboard.render import insights_page

insights_page()
