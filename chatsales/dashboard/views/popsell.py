"""Page: see render.popsell_page."""

from chatsales.dashboard.render import popsell_page

popsell_page()
