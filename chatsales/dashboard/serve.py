"""`python -m chatsales.dashboard.serve run app.py …`: Streamlit's own command line, with the modules the
pages need imported before the server listens. Streamlit imports a script's modules at the first visit;
pandas, altair and the KPI catalog take seconds to import, which the first person to open the page waited
for. A thread keeps the default view computed (chatsales.dashboard.warm)."""

from __future__ import annotations

import os
import sys


def main() -> int:
    import altair  # noqa: F401
    import pandas  # noqa: F401
    from streamlit.web import cli

    import chatsales.kpis.catalog
    import chatsales.kpis.presentation
    import chatsales.query  # noqa: F401  (not the dashboard's modules: their caches need the running server)
    from chatsales.dashboard.warm import keep_warm
    from chatsales.settings import load_settings

    settings = load_settings()
    keep_warm(os.environ.get("CHATSALES_REPORTING_DB_URL") or settings.reporting_db_url, settings.timezone)
    sys.argv = ["streamlit", *sys.argv[1:]]
    return cli.main()


if __name__ == "__main__":
    sys.exit(main())
