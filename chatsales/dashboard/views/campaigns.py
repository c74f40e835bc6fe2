"""Page: see render.campaigns_page."""

from chatsales.dashboard.render import campaigns_page

campaigns_page()
