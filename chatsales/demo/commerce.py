"""The demo's sales side: web orders (some from chatting visitors, within or outside the window, some through
offsite links, most from shoppers who never chatted, a few without identity), later versions carrying refunds
and cancellations, POS receipts with returns and dirty emails, and marketing campaigns with clicks."""
from __future__ import annotations

import numpy as np
import pandas as pd

from chatsales.demo.chat import DAY, HOUR, MIN, US, Clock, ids, nullable, pick

CATEGORIES = np.array(["skincare", "makeup", "fragrance", "haircare", "bodycare", "accessories"])
CITIES = np.array(["Paris", "Lyon", "Lille", "Bordeaux", "Nantes", "Marseille", "Toulouse", "Nice"])


def products(rng, n: int = 200) -> pd.DataFrame:
    return pd.DataFrame({"product_id": ids("p-", n), "category": pick(rng, CATEGORIES, n),
                         "price_cents": (rng.lognormal(3.4, 0.7, n).clip(4, 300) * 100).round().astype(np.int64)})


def dirty(rng, emails: np.ndarray) -> np.ndarray:
    """The same addresses as customers type them at checkout: case and surrounding spaces vary."""
    e = pd.Series(emails, dtype=object)
    choice = rng.random(len(e))
    upper = e.str.upper()
    title = e.str.capitalize()
    out = np.where(choice < 0.15, "  " + upper.astype(str), np.where(choice < 0.3, title.astype(str) + " ", e.astype(str)))
    return np.where(e.isna(), None, out).astype(object)


def web_orders(rng, clock: Clock, n: int, visitors: pd.DataFrame, rooms: pd.DataFrame,
               links: pd.DataFrame) -> pd.DataFrame:
    """Order headers (one row per order, final state) with identity keys and an int64 µs placed_at."""
    chat_rooms = rooms[~rooms["is_internal"]]
    links = links[links["linked_at"] >= clock.start]            # clicks inside the reported days
    n_chat, n_link = int(n * 0.24), min(len(links), max(3, int(n * 0.02)))
    n_shop = n - n_chat - n_link
    # customers who chatted: placed relative to the chatroom's start (hours to weeks later, some before)
    r = chat_rooms.iloc[rng.integers(0, len(chat_rooms), n_chat)]
    delay = np.where(rng.random(n_chat) < 0.1, -rng.uniform(1, 3, n_chat) * DAY,
                     rng.lognormal(np.log(2 * DAY / US), 1.3, n_chat) * US)
    vis = visitors.set_index("visitor_id").loc[r["visitor_id"]]
    web_room = r["channel"].to_numpy() == "web"
    chat = pd.DataFrame({
        "placed_at": r["started_at"].to_numpy() + delay.astype(np.int64),
        "email": dirty(rng, vis["email"].to_numpy()),
        "customer_id": nullable(vis["customer_id"].to_numpy(), rng.random(n_chat) < 0.7),
        "visitor_id": nullable(r["visitor_id"].to_numpy(), web_room & (rng.random(n_chat) < 0.5))})
    # offsite visitors who clicked a link: a browser id and no email, mostly after the click
    li = links.iloc[rng.choice(len(links), n_link, replace=False)] if n_link else links.iloc[:0]
    linked = pd.DataFrame({
        "placed_at": li["linked_at"].to_numpy() + np.where(rng.random(n_link) < 0.85, 1, -1)
        * rng.integers(1, 6 * 24, n_link) * HOUR,
        "email": None, "customer_id": None, "visitor_id": li["linked_visitor_id"].to_numpy()})
    # shoppers who never chatted; a few guests leave no identity at all
    k = rng.integers(0, max(1, n_shop // 2), n_shop)
    anonymous = rng.random(n_shop) < 0.04
    shop = pd.DataFrame({
        "placed_at": clock.daytime(rng, n_shop),
        "email": nullable(np.char.add(np.char.add("shopper", k.astype(str)), "@example.org").astype(object), ~anonymous),
        "customer_id": nullable(np.char.add("c-s", k.astype(str)).astype(object), ~anonymous & (rng.random(n_shop) < 0.5)),
        "visitor_id": None})
    orders = pd.concat([chat, linked, shop], ignore_index=True)
    orders = orders[(orders["placed_at"] >= clock.start) & (orders["placed_at"] < clock.end)]
    orders = orders.iloc[np.argsort(orders["placed_at"].to_numpy(), kind="stable")].reset_index(drop=True)
    orders.insert(0, "order_id", np.char.add("", (100000 + np.arange(len(orders))).astype(str)).astype(object))
    m = len(orders)
    fate = rng.random(m)
    orders["final_status"] = np.select([fate < 0.05, fate < 0.09, fate < 0.12, fate < 0.14],
                                       ["cancelled", "partially_refunded", "refunded", "pending"], "paid")
    orders["changed_at"] = orders["placed_at"] + rng.integers(1, 10, m) * DAY + rng.integers(0, DAY, m)
    key = orders["email"].astype(str).str.strip().str.lower().where(orders["email"].notna(), orders["customer_id"])
    first = ~key.duplicated() & key.notna()
    orders["is_first_order"] = np.where(rng.random(m) < 0.85, np.where(first, "true", "false"), "absent")
    orders.loc[key.isna().to_numpy() & (orders["is_first_order"] != "absent").to_numpy(), "is_first_order"] = "false"
    orders["currency"] = np.where(rng.random(m) < 0.0005, "USD", "EUR")       # a few rejects, as in real life
    return orders


def order_lines(rng, orders: pd.DataFrame, catalog: pd.DataFrame) -> pd.DataFrame:
    count = rng.choice([1, 2, 3], len(orders), p=[.6, .28, .12])
    order = np.repeat(np.arange(len(orders)), count)
    product = rng.integers(0, len(catalog), len(order))
    return pd.DataFrame({"oi": order, "product_id": catalog["product_id"].to_numpy()[product],
                         "category": catalog["category"].to_numpy()[product],
                         "quantity": rng.choice([1, 1, 1, 2, 3], len(order)),
                         "price_cents": catalog["price_cents"].to_numpy()[product]})


def receipts(rng, clock: Clock, n: int, visitors: pd.DataFrame, n_stores: int,
             catalog: pd.DataFrame) -> pd.DataFrame:
    """POS lines: receipts of 1–3 lines in store hours, some returns, emails of chatters, shoppers or none."""
    stores = pd.DataFrame({"store_id": ids("st-", n_stores), "store_city": CITIES[np.arange(n_stores) % len(CITIES)]})
    stores["store_name"] = "Demo " + stores["store_city"] + " " + stores["store_id"].str[-2:]
    day = rng.integers(0, clock.days, n)
    bounds = np.array([clock.midnight(d) for d in range(clock.days + 1)], dtype=np.int64)
    sold = bounds[day] + (rng.uniform(10, 19, n) * HOUR).astype(np.int64) + rng.integers(0, 60, n) * US
    with_email = visitors["email"].dropna().to_numpy()
    who = rng.random(n)
    email = np.where(who < 0.45, dirty(rng, pick(rng, with_email, n)),
                     np.where(who < 0.75, np.char.add(np.char.add("shopper", rng.integers(0, 9000, n).astype(str)),
                                                       "@example.org").astype(object), None)).astype(object)
    header = pd.DataFrame({"receipt_id": ids("R", n), "store": rng.integers(0, n_stores, n), "sold_at": sold,
                           "day": day, "customer_email": email,
                           "loyalty_id": nullable(ids("L", n), rng.random(n) < 0.4),
                           "is_return": rng.random(n) < 0.05})
    count = np.where(header["is_return"], 1, rng.choice([1, 2, 3], n, p=[.55, .3, .15]))
    row = np.repeat(np.arange(n), count)
    product = rng.integers(0, len(catalog), len(row))
    qty = rng.choice([1, 1, 2], len(row)) * np.where(header["is_return"].to_numpy()[row], -1, 1)
    lines = header.iloc[row].reset_index(drop=True)
    lines["product_id"] = catalog["product_id"].to_numpy()[product]
    lines["category"] = catalog["category"].to_numpy()[product]
    lines["quantity"] = qty
    lines["amount_cents"] = qty * catalog["price_cents"].to_numpy()[product]
    lines = lines.join(stores, on="store")
    return lines


def campaigns(rng, clock: Clock, n: int, orders: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Mailings and automations, with clicks by customers who then order within 7 days, after 8, or never."""
    camp = pd.DataFrame({"campaign_id": ids("cp-", n), "name": [f"Demo campaign {i}" for i in range(n)],
                         "kind": np.where(np.arange(n) % 3 == 2, "automation", "mailing"),
                         "sent_at": clock.daytime(rng, n)})
    buyers = orders[orders["email"].notna()]
    k = min(len(buyers), max(30, len(orders) // 20))
    chosen = buyers.iloc[rng.choice(len(buyers), k, replace=False)]
    lag = np.where(rng.random(k) < 0.7, rng.uniform(0.2, 6.5, k), rng.uniform(8, 10, k)) * DAY
    anchored = pd.DataFrame({"campaign_id": pick(rng, camp["campaign_id"].to_numpy(), k),
                             "email": chosen["email"].astype(str).str.strip().str.lower().to_numpy(),
                             "clicked_at": chosen["placed_at"].to_numpy() - lag.astype(np.int64)})
    idle = pd.DataFrame({"campaign_id": pick(rng, camp["campaign_id"].to_numpy(), k),
                         "email": np.char.add(np.char.add("reader", np.arange(k).astype(str)), "@example.net"),
                         "clicked_at": clock.daytime(rng, k)})
    clicks = pd.concat([anchored, idle], ignore_index=True).sort_values("clicked_at", kind="stable")
    return camp, clicks.reset_index(drop=True)
