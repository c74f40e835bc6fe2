"""Campaign attribution (Smgo-1, Smgo-2) on a hand-built world; window 7 days unless said.

Campaigns: cp-1 mailing, cp-2 automation, cp-3 mailing nobody clicked.
  ann  clicks cp-1 03-02 10:00; buys o-1 03-05 10:00 (100, also attributed to chat cr-1) → cp-1, overlap;
       her cancelled o-6 03-05 11:00 is no sale
  bob  clicks cp-2 03-01 00:00 and cp-1 03-01 12:00; buys o-2 03-09 12:00 (60, chat-attributed), 8 days after
       his last click → no campaign
  cat  clicks cp-2 03-03 09:00 then cp-1 03-04 09:00; buys o-3 03-06 09:00 (40) → cp-1 (latest click); she
       converted for both campaigns
  dan  clicks cp-2 03-10 10:00; buys o-4 03-17 10:00 (80), exactly 7 days later → cp-2 (inclusive)
  eve  clicks cp-2 03-12 08:00; buys o-5 at that very instant (20) → cp-2 (inclusive)
  fay  clicks cp-2 as " Fay@Example.com " 03-12 10:00; store receipt R-7 03-13 (30, chat-attributed) → cp-2, overlap
  gus  clicks cp-1 03-02, never buys
  hal  clicks cp-2 and cp-1 at the same instant 03-14 10:00; buys o-8 03-14 12:00 (10) → cp-1 (smallest id)
"""

from __future__ import annotations

import pandas as pd
import pytest

from chatsales import schema
from chatsales.campaigns import campaign_attribution, hashed_clicks, overlap_summary
from chatsales.pii import hash_emails, normalise_emails

KEY = "k"


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(f"2026-{text}", tz="UTC")


def h(email: str) -> str:
    return hash_emails(normalise_emails(pd.Series([email], dtype="str")), KEY).iloc[0]


CAMPAIGNS = schema.conform(
    pd.DataFrame(
        {
            "campaign_id": ["cp-1", "cp-2", "cp-3"],
            "name": ["Spring", "Welcome", "Silent"],
            "kind": ["mailing", "automation", "mailing"],
            "sent_at": [ts("03-01T08:00"), ts("02-20T08:00"), ts("03-05T08:00")],
        }
    ),
    schema.CAMPAIGNS,
)

CLICKS = schema.conform(
    pd.DataFrame(
        [
            ("cp-1", "ann@example.com", ts("03-02T10:00")),
            ("cp-2", "bob@example.com", ts("03-01T00:00")),
            ("cp-1", "bob@example.com", ts("03-01T12:00")),
            ("cp-2", "cat@example.com", ts("03-03T09:00")),
            ("cp-1", "cat@example.com", ts("03-04T09:00")),
            ("cp-2", "dan@example.com", ts("03-10T10:00")),
            ("cp-2", "eve@example.com", ts("03-12T08:00")),
            ("cp-2", " Fay@Example.com ", ts("03-12T10:00")),
            ("cp-1", "gus@example.com", ts("03-02T10:00")),
            ("cp-2", "hal@example.com", ts("03-14T10:00")),
            ("cp-1", "hal@example.com", ts("03-14T10:00")),
        ],
        columns=["campaign_id", "email", "clicked_at"],
    ),
    schema.CAMPAIGN_CLICKS,
)


def orders() -> pd.DataFrame:
    rows = [  # order, channel, who, placed, total, cancelled, chatroom
        ("o-1", "web", "ann", "03-05T10:00", 100.0, False, "cr-1"),
        ("o-6", "web", "ann", "03-05T11:00", 70.0, True, None),
        ("o-2", "web", "bob", "03-09T12:00", 60.0, False, "cr-2"),
        ("o-3", "web", "cat", "03-06T09:00", 40.0, False, None),
        ("o-4", "web", "dan", "03-17T10:00", 80.0, False, None),
        ("o-5", "web", "eve", "03-12T08:00", 20.0, False, None),
        ("R-7", "store", "fay", "03-13T15:00", 30.0, False, "cr-7"),
        ("o-8", "web", "hal", "03-14T12:00", 10.0, False, None),
        ("o-9", "web", None, "03-14T12:00", 99.0, False, None),
    ]  # no email: never credited
    frame = pd.DataFrame(
        rows, columns=["order_id", "sales_channel", "who", "placed_at", "total", "is_cancelled", "chatroom_id"]
    )
    frame["placed_at"] = frame["placed_at"].map(ts).astype(schema.TS)
    frame["day"] = frame["placed_at"].dt.tz_convert("Europe/Paris").dt.date
    frame["customer_hash"] = hash_emails(normalise_emails((frame["who"] + "@example.com").astype("str")), KEY)
    frame["is_sale"] = ~frame["is_cancelled"] & (frame["total"] > 0)
    frame["attributed"] = frame["chatroom_id"].notna()
    frame["member_id"] = frame["chatroom_id"].str.replace("cr", "m")
    return frame.drop(columns="who")


def run(window_days: int = 7):
    return campaign_attribution(orders(), CAMPAIGNS, CLICKS, window_days=window_days, pii_key=KEY)


def test_each_sale_goes_to_the_latest_click_within_the_window():
    credited = run()["campaign_orders"].set_index("order_id")
    assert credited["campaign_id"].to_dict() == {
        "o-1": "cp-1",
        "o-3": "cp-1",
        "o-8": "cp-1",
        "o-4": "cp-2",
        "o-5": "cp-2",
        "R-7": "cp-2",
    }
    assert credited.loc["o-4", "seconds_after_click"] == 7 * 86_400  # exactly the window: inclusive
    assert credited.loc["o-5", "seconds_after_click"] == 0  # click at the order's instant
    assert credited.loc["R-7", "sales_channel"] == "store" and credited.loc["R-7", "kind"] == "automation"
    assert credited.loc["o-1", "customer_hash"] == h("ann@example.com")
    assert "email" not in credited.columns


def test_a_click_eight_days_before_the_order_is_outside_the_default_window():
    assert "o-2" not in set(run()["campaign_orders"]["order_id"])
    wider = run(window_days=9)["campaign_orders"].set_index("order_id")
    assert wider.loc["o-2", "campaign_id"] == "cp-1"  # bob's latest click, 8 days before


def test_orders_claimed_by_a_chat_and_a_campaign_are_the_overlap():
    result = run()
    credited = result["campaign_orders"]
    both = credited[credited["chat_attributed"]]
    assert both[["order_id", "campaign_id", "chatroom_id", "member_id"]].values.tolist() == [
        ["o-1", "cp-1", "cr-1", "m-1"],
        ["R-7", "cp-2", "cr-7", "m-7"],
    ]
    assert overlap_summary(orders(), credited) == {
        "sales": 8,
        "campaign_orders": 6,
        "chat_attributed_sales": 3,
        "overlap_orders": 2,
        "campaign_sales_amount": 280.0,
        "overlap_sales_amount": 130.0,
    }


def test_transaction_stats_and_conversion_per_campaign_and_per_automation():
    stats = run()["campaign_stats"]
    per = stats[stats["level"] == "campaign"].set_index("campaign_id")
    columns = [
        "clicks",
        "clickers",
        "buyers",
        "orders",
        "sales_sum",
        "sales_min",
        "sales_max",
        "overlap_orders",
        "overlap_sales",
    ]
    assert per.loc["cp-1", columns].tolist() == [5, 5, 3, 3, 150.0, 10.0, 100.0, 1, 100.0]
    assert per.loc["cp-1", "sales_mean"] == 50.0 and per.loc["cp-1", "conversion"] == 0.6  # ann, cat, hal of 5
    # cat bought 3 days after her cp-2 click: she converted for cp-2 although cp-1 got the order
    assert per.loc["cp-2", columns].tolist() == [6, 6, 5, 3, 130.0, 20.0, 80.0, 1, 30.0]
    assert per.loc["cp-2", "sales_mean"] == pytest.approx(130 / 3)
    assert per.loc["cp-2", "conversion"] == pytest.approx(5 / 6)  # bob did not buy within 7 days
    assert per.loc["cp-3", ["clicks", "orders", "sales_sum"]].tolist() == [0, 0, 0.0]
    assert pd.isna(per.loc["cp-3", "conversion"]) and pd.isna(per.loc["cp-3", "sales_mean"])
    kinds = stats[stats["level"] == "kind"].set_index("kind")
    assert kinds["campaign_id"].isna().all()
    assert kinds.loc["mailing", columns].tolist() == [5, 5, 3, 3, 150.0, 10.0, 100.0, 1, 100.0]
    assert kinds.loc["automation", ["clickers", "buyers", "orders", "sales_sum"]].tolist() == [6, 5, 3, 130.0]
    assert (stats["window_days"] == 7).all()


def test_bad_clicks_are_named():
    stray = pd.concat(
        [
            CLICKS,
            schema.conform(
                pd.DataFrame(
                    {"campaign_id": ["cp-404"], "email": ["x@example.com"], "clicked_at": [ts("03-02T10:00")]}
                ),
                schema.CAMPAIGN_CLICKS,
            ),
        ],
        ignore_index=True,
    )
    with pytest.raises(
        ValueError,
        match=r"marketing_touchpoints: campaign_clicks record \(campaign_id='cp-404'.*"
        r"unknown campaign_id",
    ):
        hashed_clicks(stray, CAMPAIGNS, KEY)
    with pytest.raises(ValueError, match="campaign window: 0 days"):
        campaign_attribution(orders(), CAMPAIGNS, CLICKS, window_days=0, pii_key=KEY)


def test_insight_settings_have_defaults_and_name_a_bad_value(tmp_path):
    from chatsales.settings import load_settings

    settings = load_settings({"CHATSALES_HOME": str(tmp_path)})
    assert (settings.campaign_window_days, settings.trend_days, settings.trend_stable_pct, settings.price_bands) == (
        7,
        90,
        20.0,
        (25.0, 50.0, 100.0, 200.0),
    )
    custom = load_settings(
        {
            "CHATSALES_HOME": str(tmp_path),
            "CHATSALES_CAMPAIGN_WINDOW_DAYS": "3",
            "CHATSALES_TREND_DAYS": "30",
            "CHATSALES_TREND_STABLE_PCT": "12.5",
            "CHATSALES_PRICE_BANDS": "10,20",
        }
    )
    assert (custom.campaign_window_days, custom.trend_days, custom.trend_stable_pct, custom.price_bands) == (
        3,
        30,
        12.5,
        (10.0, 20.0),
    )
    for name, value, problem in (
        ("CHATSALES_CAMPAIGN_WINDOW_DAYS", "week", "not a whole number"),
        ("CHATSALES_TREND_DAYS", "0", "must be above 0"),
        ("CHATSALES_PRICE_BANDS", "50,20", "strictly increasing"),
    ):
        with pytest.raises(ValueError, match=f"{name}='{value}': .*{problem}"):
            load_settings({"CHATSALES_HOME": str(tmp_path), name: value})
