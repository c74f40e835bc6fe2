"""`chatsales dashboard`: the Streamlit app as a child process, on 127.0.0.1 unless told otherwise."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

APP = Path(__file__).resolve().parent / "app.py"
URL_ENV = "CHATSALES_REPORTING_DB_URL"


def add_dashboard_command(sub) -> None:
    """Register `dashboard` on the CLI's subparsers."""
    dashboard = sub.add_parser("dashboard", help="the dashboard (Streamlit) over the reporting database, read-only")
    dashboard.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    dashboard.add_argument("--port", type=tcp_port, default=8501)
    dashboard.set_defaults(func=cmd_dashboard)


def tcp_port(text: str) -> int:
    """--port: refused in one line (the CLI's parser) unless a TCP port."""
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port (1..65535)")
    return port


def dashboard_argv(host: str, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "chatsales.dashboard.serve",
        "run",
        str(APP),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
        "--theme.base",
        "light",
        "--client.toolbarMode",
        "viewer",
    ]


def cmd_dashboard(args) -> int:
    from chatsales.settings import load_settings, redacted_url

    settings = load_settings()
    env = {**os.environ, URL_ENV: settings.reporting_db_url}
    print(
        f"dashboard of {redacted_url(settings.reporting_db_url)} on http://{args.host}:{args.port} (Ctrl-C stops it)",
        flush=True,
    )
    child = subprocess.Popen(dashboard_argv(args.host, args.port), env=env)

    def stop(_signum, _frame) -> None:  # `kill` of this command stops the server too, never orphans it
        child.terminate()

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        return child.wait()
    except KeyboardInterrupt:  # Ctrl-C reaches both; the server stops on its own
        return child.wait()
    finally:
        signal.signal(signal.SIGTERM, previous)
        if child.poll() is None:
            child.kill()
