"""Settings from the environment (and a `.env` in the project root), every one with a demo default.

The variable names are an interface (outputs.md, Settings): deployments rely on them.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEMO_PII_KEY = "chatsales-demo-key-not-for-production"


def _load_dotenv() -> None:
    env_file = PROJECT_ROOT / ".env"
    if env_file.exists():
        from dotenv import load_dotenv

        load_dotenv(env_file, override=False)


@dataclass(frozen=True)
class Settings:
    home: Path
    timezone: str = "Europe/Paris"
    currency: str = "EUR"
    window_days: int = 14
    start_date: date | None = None
    chat_db_url: str = ""
    orders_dir: Path = field(default_factory=Path)
    store_sales_dir: Path = field(default_factory=Path)
    campaigns_dir: Path = field(default_factory=Path)
    reporting_db_url: str = ""
    pii_key: str = DEMO_PII_KEY
    shopify_shop: str | None = None
    shopify_token: str | None = None
    reject_threshold: float = 0.01   # share of a source's rows that may be rejected before the check fails
    late_horizon_days: int = 30      # the late-data sensor re-runs past days up to this many days back
    sensor_interval_seconds: int = 300
    # insights (kpis.md, Sales insights and SALESmanago): campaign window, revenue trend, price bands
    campaign_window_days: int = 7
    trend_days: int = 90
    trend_stable_pct: float = 20.0
    price_bands: tuple[float, ...] = (25.0, 50.0, 100.0, 200.0)

    @property
    def demo_dir(self) -> Path:
        return self.home / "demo"

    @property
    def uses_demo_pii_key(self) -> bool:
        return self.pii_key == DEMO_PII_KEY

    def with_(self, **changes) -> "Settings":
        return replace(self, **changes)


def demo_paths(home: Path) -> dict[str, object]:
    """Where the demo generator writes each source under CHATSALES_HOME."""
    demo = home / "demo"
    return {
        "chat_db_url": f"sqlite:///{demo / 'chat.db'}",
        "orders_dir": demo / "orders",
        "store_sales_dir": demo / "store_sales",
        "campaigns_dir": demo / "campaigns",
    }


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Settings from `environ` (default: os.environ after reading `.env`)."""
    if environ is None:
        _load_dotenv()
        environ = dict(os.environ)
    home = Path(environ.get("CHATSALES_HOME") or PROJECT_ROOT / ".chatsales").resolve()
    demo = demo_paths(home)
    start = environ.get("CHATSALES_START_DATE")
    settings = Settings(
        home=home,
        timezone=environ.get("CHATSALES_TIMEZONE", "Europe/Paris"),
        currency=environ.get("CHATSALES_CURRENCY", "EUR"),
        window_days=int(environ.get("CHATSALES_WINDOW_DAYS", "14")),
        start_date=date.fromisoformat(start) if start else None,
        chat_db_url=environ.get("CHATSALES_CHAT_DB_URL") or str(demo["chat_db_url"]),
        orders_dir=Path(environ.get("CHATSALES_ORDERS_DIR") or demo["orders_dir"]),
        store_sales_dir=Path(environ.get("CHATSALES_STORE_SALES_DIR") or demo["store_sales_dir"]),
        campaigns_dir=Path(environ.get("CHATSALES_CAMPAIGNS_DIR") or demo["campaigns_dir"]),
        reporting_db_url=environ.get("CHATSALES_REPORTING_DB_URL")
        or f"sqlite:///{home / 'reporting.db'}",
        pii_key=environ.get("CHATSALES_PII_KEY") or DEMO_PII_KEY,
        shopify_shop=environ.get("SHOPIFY_SHOP") or None,
        shopify_token=environ.get("SHOPIFY_TOKEN") or None,
        reject_threshold=float(environ.get("CHATSALES_REJECT_THRESHOLD", "0.01")),
        late_horizon_days=int(environ.get("CHATSALES_LATE_HORIZON_DAYS", "30")),
        sensor_interval_seconds=int(environ.get("CHATSALES_SENSOR_INTERVAL_SECONDS", "300")),
        **insight_settings(environ),
    )
    return settings


def _positive(environ: dict[str, str], name: str, default: str, kind: type) -> float:
    text = environ.get(name) or default
    try:
        value = kind(text)
    except ValueError:
        raise ValueError(f"{name}={text!r}: not a {'whole ' if kind is int else ''}number") from None
    if not value > 0:
        raise ValueError(f"{name}={text!r}: must be above 0")
    return value


def insight_settings(environ: dict[str, str]) -> dict[str, object]:
    """The campaign window, revenue-trend and price-band settings, checked (a bad value names its variable)."""
    bands_text = environ.get("CHATSALES_PRICE_BANDS") or "25,50,100,200"
    try:
        bands = tuple(float(b) for b in bands_text.split(","))
    except ValueError:
        raise ValueError(f"CHATSALES_PRICE_BANDS={bands_text!r}: not a comma-separated list of prices") from None
    if any(b <= 0 for b in bands) or list(bands) != sorted(set(bands)):
        raise ValueError(f"CHATSALES_PRICE_BANDS={bands_text!r}: prices must be above 0 and strictly increasing")
    return {"campaign_window_days": _positive(environ, "CHATSALES_CAMPAIGN_WINDOW_DAYS", "7", int),
            "trend_days": _positive(environ, "CHATSALES_TREND_DAYS", "90", int),
            "trend_stable_pct": _positive(environ, "CHATSALES_TREND_STABLE_PCT", "20", float),
            "price_bands": bands}


def warn_if_demo_key(settings: Settings, context: str) -> None:
    if settings.uses_demo_pii_key:
        warnings.warn(
            f"{context}: CHATSALES_PII_KEY is not set; customer hashes use the public demo key. "
            "Set a secret key in production.", stacklevel=2)
