"""Settings: the one source of truth for every `CHATSALES_*` variable (and `SHOPIFY_*`), read from the
environment and a `.env` in the project root, each with a working demo default.

The variable names are an interface deployments rely on. A bad value is refused when the settings load, with
one line naming the variable and what it accepts (`SettingsError`); the CLI turns it into exit code 2, and
Dagster shows it as the code location's load error.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEMO_PII_KEY = "chatsales-demo-key-not-for-production"
FALLBACK_START = date(2026, 1, 1)
PREFIX = "CHATSALES_"
UNPREFIXED = {"shopify_shop": "SHOPIFY_SHOP", "shopify_token": "SHOPIFY_TOKEN"}


def today_in(timezone: str) -> date:
    """Today in the reporting time zone: every "today" of chatsales is this one, never the machine's."""
    return datetime.now(ZoneInfo(timezone)).date()


class SettingsError(ValueError):
    """A setting with a value chatsales cannot use: one line, naming the variable and what it accepts."""


def variable(field: str) -> str:
    """The environment variable of a settings field."""
    return UNPREFIXED.get(field, PREFIX + field.upper())


class Settings(BaseSettings):
    """Every setting of chatsales. Paths left empty point into the demo under `home`."""

    model_config = SettingsConfigDict(
        env_prefix=PREFIX,
        env_file=PROJECT_ROOT / ".env",
        extra="ignore",
        frozen=True,
        populate_by_name=True,
        validate_default=True,
    )

    home: Path = Field(PROJECT_ROOT / ".chatsales", description="demo data, the lake and the embedded databases")
    timezone: str = Field("Europe/Paris", description="reporting timezone (days, time slots)")
    currency: str = Field("EUR", description="reporting currency; other currencies are rejected")
    window_days: int = Field(14, ge=1, description="attribution deadline in days")
    start_date: date | None = Field(None, description="first daily partition (default: the demo's first day)")
    chat_db_url: str = Field("", description="chat platform database, any SQLAlchemy URL")
    orders_dir: Path | None = Field(None, description="orders JSONL folder")
    store_sales_dir: Path | None = Field(None, description="POS CSV folder")
    campaigns_dir: Path | None = Field(None, description="folder with campaigns.csv and campaign_clicks.csv")
    reporting_db_url: str = Field("", description="reporting database, any SQLAlchemy URL")
    lake_dir: Path | None = Field(None, description="the lake: every source record read, by reporting day")
    pii_key: str = Field(DEMO_PII_KEY, min_length=1, description="key of the email hash (HMAC-SHA256)")
    shopify_shop: str | None = Field(
        None,
        validation_alias=AliasChoices("shopify_shop", "SHOPIFY_SHOP"),
        description="live orders from this Shopify shop instead of the folder",
    )
    shopify_token: str | None = Field(
        None, validation_alias=AliasChoices("shopify_token", "SHOPIFY_TOKEN"), description="Shopify Admin API token"
    )
    reject_threshold: float = Field(0.01, ge=0, le=1, description="share of a source's rows that may be rejected")
    max_day_drop_pct: float = Field(
        50.0,
        ge=0,
        le=100,
        description="a source's rows of a day may fall by at "
        "most this % against the published day before publication stops",
    )
    max_amount: float = Field(1_000_000.0, gt=0, description="amounts above this are rejects")
    late_horizon_days: int = Field(30, ge=1, description="how far back late data is read and re-run")
    sensor_interval_seconds: int = Field(300, ge=1, description="minimum time between two late-data ticks")
    published_by: str = Field(
        "07:00",
        pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
        description="yesterday's KPIs are due by this local time (freshness check)",
    )
    dashboard_url: str = Field("http://127.0.0.1:8501", description="where the dashboard is served")
    campaign_window_days: int = Field(7, gt=0, description="a sale counts for a click at most this many days")
    trend_days: int = Field(90, gt=0, description="revenue trend: last N days against the N before")
    trend_stable_pct: float = Field(20.0, gt=0, description="revenue trend: a change within this % is stable")
    price_bands: Annotated[tuple[float, ...], NoDecode] = Field(
        (25.0, 50.0, 100.0, 200.0), description="price-band bounds, ascending, lower bound inclusive"
    )

    @classmethod
    def settings_customise_sources(
        cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, dotenv_settings

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("not an IANA time zone such as Europe/Paris") from None
        return value

    @field_validator("currency")
    @classmethod
    def _currency_code(cls, value: str) -> str:
        if not (len(value) == 3 and value.isalpha() and value.isupper()):
            raise ValueError("not a three-letter currency code such as EUR")
        return value

    @field_validator("price_bands", mode="before")
    @classmethod
    def _bands(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                value = tuple(float(b) for b in value.split(","))
            except ValueError:
                raise ValueError("not a comma-separated list of prices") from None
        if any(b <= 0 for b in value) or list(value) != sorted(set(value)):
            raise ValueError("prices must be above 0 and strictly increasing")
        return value

    @field_validator("chat_db_url", "reporting_db_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value:
            try:
                sa.engine.make_url(value).get_dialect()
            except (sa.exc.ArgumentError, ValueError):  # ValueError: a port that is not a number
                raise ValueError("not a database URL such as postgresql+psycopg2://user@host/db") from None
            except sa.exc.NoSuchModuleError:
                raise ValueError("unknown database kind; use sqlite:/// or postgresql+psycopg2://") from None
        return value

    @model_validator(mode="after")
    def _defaults_and_bounds(self) -> Settings:
        home = self.home.expanduser().resolve()
        demo = home / "demo"
        fill = {
            "home": home,
            "chat_db_url": self.chat_db_url or f"sqlite:///{demo / 'chat.db'}",
            "orders_dir": self.orders_dir or demo / "orders",
            "store_sales_dir": self.store_sales_dir or demo / "store_sales",
            "campaigns_dir": self.campaigns_dir or demo / "campaigns",
            "reporting_db_url": self.reporting_db_url or f"sqlite:///{home / 'reporting.db'}",
            "lake_dir": self.lake_dir or home / "lake",
        }
        for name, value in fill.items():
            object.__setattr__(self, name, value)
        if self.start_date is not None and self.start_date > self.today():
            raise ValueError(
                f"start_date: {self.start_date} is after today ({self.today()} in {self.timezone}); "
                "it accepts a past day YYYY-MM-DD"
            )
        if self.late_horizon_days < self.window_days:
            raise ValueError(
                f"late_horizon_days: {self.late_horizon_days} is shorter than the attribution "
                f"window ({self.window_days} days); late data inside the window would be missed"
            )
        return self

    # --- derived ---------------------------------------------------------------------------------------
    @property
    def demo_dir(self) -> Path:
        return self.home / "demo"

    @property
    def uses_demo_pii_key(self) -> bool:
        return self.pii_key == DEMO_PII_KEY

    def today(self) -> date:
        return today_in(self.timezone)

    @property
    def partition_start(self) -> date:
        """CHATSALES_START_DATE, else the first day of the demo dataset if one was written, else 2026-01-01."""
        if self.start_date:
            return self.start_date
        manifest = self.demo_dir / "manifest.json"
        if manifest.exists():
            return date.fromisoformat(json.loads(manifest.read_text())["first_day"])
        return FALLBACK_START

    def with_(self, **changes) -> Settings:
        return self.model_copy(update=changes)


class _FromMapping(Settings):
    """Settings from a mapping of variables alone: no environment, no .env (tests, benchmarks)."""

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, **_sources):
        return (init_settings,)


PLAIN = {
    "int_parsing": "not a whole number",
    "int_from_float": "not a whole number",
    "float_parsing": "not a number",
    "date_from_datetime_parsing": "not a date (YYYY-MM-DD)",
    "date_parsing": "not a date (YYYY-MM-DD)",
    "bool_parsing": "not true or false",
    "greater_than": "must be above {gt}",
    "greater_than_equal": "must be at least {ge}",
    "less_than_equal": "must be at most {le}",
    "string_pattern_mismatch": "not a time of day HH:MM",
    "string_too_short": "must not be empty",
}


def _message(error: ValidationError) -> str:
    first = error.errors()[0]
    field = str(first["loc"][0]) if first["loc"] else ""
    plain = PLAIN.get(first["type"])
    text = plain.format(**first.get("ctx", {})) if plain else first["msg"].removeprefix("Value error, ")
    if not field and ":" in text:  # a model-level check says which field it is about
        field, _, text = text.partition(": ")
    name = variable(field) if field else "a setting"
    value = first.get("input")
    shown = (
        ""
        if field in ("pii_key", "shopify_token") or isinstance(value, Mapping) or value is None
        else f"={_hide_password(field, value)!r}"
    )
    return f"{name}{shown}: {text}"


def _hide_password(field: str, value: Any) -> Any:
    if field.endswith("_url") and isinstance(value, str):
        try:
            return sa.engine.make_url(value).render_as_string(hide_password=True)
        except (sa.exc.ArgumentError, ValueError):
            return "<not a URL>"
    return value


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """The settings from the environment and `.env` (or only from `environ`); SettingsError names a bad one."""
    try:
        if environ is None:
            return Settings()
        values = {}
        for name, text in environ.items():
            if name in UNPREFIXED.values():
                values[name.lower()] = text
            elif name.startswith(PREFIX) and name.removeprefix(PREFIX).lower() in Settings.model_fields:
                values[name.removeprefix(PREFIX).lower()] = text
        return _FromMapping(**{k: v for k, v in values.items() if v != ""})
    except ValidationError as error:
        raise SettingsError(_message(error)) from None


def redacted_url(url: str) -> str:
    """A database URL as it may be shown anywhere: the password hidden."""
    return sa.engine.make_url(url).render_as_string(hide_password=True)


def warn_if_demo_key(settings: Settings, context: str) -> None:
    if settings.uses_demo_pii_key:
        warnings.warn(
            f"{context}: CHATSALES_PII_KEY is not set; customer hashes use the public demo key. "
            "Set a secret key in production.",
            stacklevel=2,
        )


SHOWN_DEFAULTS = {
    "home": "`.chatsales` in the project",
    "start_date": "the demo's first day",
    "chat_db_url": "the demo's",
    "orders_dir": "the demo's",
    "store_sales_dir": "the demo's",
    "campaigns_dir": "the demo's",
    "reporting_db_url": "`reporting.db` in `CHATSALES_HOME` (SQLite)",
    "lake_dir": "`lake` in `CHATSALES_HOME`",
    "pii_key": "a public demo key: set yours",
    "shopify_shop": "unset (read the folder)",
    "shopify_token": "unset",
}


def settings_table() -> str:
    """The README's settings table, from the model itself (a test keeps the README equal to it)."""
    rows = ["| variable | meaning | default |", "|---|---|---|"]
    for field, info in Settings.model_fields.items():
        default = info.default
        shown = (
            SHOWN_DEFAULTS[field]
            if field in SHOWN_DEFAULTS
            else "`" + ",".join(f"{b:g}" for b in default) + "`"
            if isinstance(default, tuple)
            else f"`{int(default):,}`"
            if isinstance(default, float) and default.is_integer()
            else f"`{default:g}`"
            if isinstance(default, float)
            else f"`{default}`"
        )
        rows.append(f"| `{variable(field)}` | {info.description} | {shown} |")
    return "\n".join(rows)
