"""Page: see render.members_page."""

from chatsales.dashboard.render import members_page

members_page()
