"""Page: see render.iadvize_page."""

from chatsales.dashboard.render import iadvize_page

iadvize_page()
