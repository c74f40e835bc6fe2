"""The demo's proportions, in one named profile: every probability, share and mix the generator draws with.

The generator (`chat.py`, `commerce.py`, `files.py`) is vectorised numpy code; written inline, its dozens of numbers
were scattered through the draws and read as bare literals (`fate < 0.06`, `p=[0.45, 0.30, 0.15, 0.10]`). Here
each one has a name, so this is the one place to read and tune what the demo is made of. Sizes (how many
members, requests, orders a scale gives) are in `generator.plan_demo`; the shapes of durations (lognormal
means, uniform ranges in hours or days) stay beside their draws.

`DEMO_PROFILE` holds the numbers the demo has always used. The tests' expected counts depend on these exact
values (and on the order of the draws): change one and the demo changes, and those counts with it.

Conventions: a mix is a tuple of probabilities in the order of the codes it draws (`rng.choice(len(mix), n,
p=mix)`); a `Fates` class cuts one uniform draw into consecutive shares, in field order, and what is left
after its last share does the ordinary thing.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass, fields

import numpy as np

__all__ = [
    "DEMO_PROFILE",
    "ChatProfile",
    "CommerceProfile",
    "DemoProfile",
    "EmailFilled",
    "Fates",
    "MessageProfile",
    "OrderFates",
    "OrderProfile",
    "QuestionTiming",
    "RatingGiven",
    "ReceiptProfile",
    "TypedEmails",
    "WaitingListFates",
]


@dataclass(frozen=True)
class Fates:
    """Consecutive shares of one uniform draw in [0, 1), one per field, in field order."""

    def cuts(self) -> np.ndarray:
        """Where each share ends: the running totals, rounded to 12 decimals so that 0.70 + 0.08 ends at the
        0.78 it reads (np.cumsum alone gives 0.7799999999999999)."""
        return np.round(np.cumsum(astuple(self)), 12)

    def split(self, u: np.ndarray) -> dict[str, np.ndarray]:
        """{field: mask of the draws `u` that fall in its share}; draws past the last share are in none."""
        band = np.searchsorted(self.cuts(), u, side="right")
        return {f.name: band == i for i, f in enumerate(fields(self))}


# --- chat platform -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WaitingListFates(Fates):
    """What becomes of a waiting-list request; the rest are handled within half an hour."""

    canceled: float = 0.06  # by the visitor, 20 s to 15 min after asking
    never_handled: float = 0.06
    handled_hours_later: float = 0.06  # 1 to 10 hours
    handled_days_later: float = 0.03  # 1 to 4 days


@dataclass(frozen=True)
class QuestionTiming(Fates):
    """When a request's question is asked; the rest never ask one."""

    asked_at_once: float = 0.70  # 2 to 60 s after the request
    asked_later: float = 0.08  # half an hour to 3 days after


@dataclass(frozen=True)
class RatingGiven(Fates):
    """What a rating request gets; the rest are never answered."""

    at_once: float = 0.45  # 1 to 90 minutes after the request
    days_later: float = 0.15  # 1 to 6 days after


@dataclass(frozen=True)
class EmailFilled(Fates):
    """What an email request gets; the rest stay unanswered."""

    at_once: float = 0.55  # 1 to 30 minutes after the request
    days_later: float = 0.15  # 1 to 5 days after


@dataclass(frozen=True)
class MessageProfile:
    """The messages of a chatroom."""

    room_shapes: tuple[float, ...] = (0.68, 0.12, 0.10, 0.10)  # dialogue, visitor only, member only, empty
    blocked_dialogues: float = 0.5  # a blocked room is a dialogue, else visitor only
    member_first_hook_phygital: float = 0.5  # the member writes first: rooms of hook and phygital requests
    member_first_other: float = 0.12  # ... and of waiting-list and direct requests
    late_first_replies: float = 0.08  # dialogues whose second party first answers 1 to 5 days later
    resumed: float = 0.03  # later messages (from the 4th) that resume a conversation 1 to 20 days later
    member_writes: float = 0.5  # who writes each message after the first two
    # in KINDS order without rating_request (added apart): text, product, photo, video, connect_request,
    # email_request, link
    member_kinds: tuple[float, ...] = (0.73, 0.10, 0.04, 0.02, 0.03, 0.03, 0.05)
    visitor_kinds: tuple[float, ...] = (0.88, 0.02, 0.08, 0.02)  # text, product, photo, video
    email_filled: EmailFilled = EmailFilled()
    welcome_in_empty_rooms: float = 0.6  # rooms with an automatic welcome message
    welcome_in_other_rooms: float = 0.4
    system_notes: float = 0.06  # rooms with a system note (transfer, closing)


@dataclass(frozen=True)
class ChatProfile:
    """Members, requests, visitors, chatrooms and what happens in them."""

    member_roles: tuple[float, ...] = (0.04, 0.5, 0.2, 0.1, 0.08, 0.04, 0.04)  # role codes 0 to 6
    store_members: float = 0.3  # members attached to a store
    request_sources: tuple[float, ...] = (0.45, 0.30, 0.15, 0.10)  # in SOURCES order
    # per source (SOURCES order), the mix of CHANNELS: waiting list and hook happen in the web widget (and
    # the app), direct covers the messaging apps, phygital the store
    channels_by_source: tuple[tuple[float, ...], ...] = (
        (0.78, 0.0, 0.0, 0.0, 0.0, 0.22, 0.0),
        (0.22, 0.18, 0.24, 0.10, 0.14, 0.12, 0.0),
        (1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
        (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0),
    )
    waiting_list: WaitingListFates = WaitingListFates()
    question: QuestionTiming = QuestionTiming()
    returning_visitors: float = 0.15  # requests by an earlier visitor of the same kind
    # per kind of visitor (browser, messaging app, store): the platform knows an email, a customer id
    email_by_visitor_kind: tuple[float, ...] = (0.55, 0.15, 0.70)
    customer_by_visitor_kind: tuple[float, ...] = (0.35, 0.04, 0.10)
    internal_rooms: float = 0.015  # member-to-member rooms, per room opened by a request
    blocked_rooms: float = 0.01  # of the rooms with visitors
    messages: MessageProfile = MessageProfile()
    rated_rooms: float = 0.35  # rooms with visitors and a counted message that get a rating request
    rating_given: RatingGiven = RatingGiven()
    scores: tuple[float, ...] = (0.04, 0.05, 0.11, 0.30, 0.50)  # scores 1 to 5 of the ratings given
    links_clicked: float = 0.6  # offsite rooms whose first link was clicked (an identity link)
    ignored_hooks_per_click: int = 2  # hooks triggered without a click, per hook request
    ignored_hooks_displayed: float = 0.75  # of those, displayed (the rest only triggered)
    member_works: float = 0.7  # (member, day) pairs with a session
    late_shifts: float = 0.06  # sessions starting 21:30 to 23:30, ending after midnight
    second_devices: float = 0.12  # day sessions with a second, overlapping one


# --- sales side -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TypedEmails(Fates):
    """An address as a customer types it at checkout; the rest as stored (identity strips and lower-cases)."""

    upper_cased: float = 0.08
    capitalised: float = 0.08
    padded_with_spaces: float = 0.10


@dataclass(frozen=True)
class OrderFates(Fates):
    """The later version of a web order; the rest keep their status (a pending one may get paid)."""

    cancelled: float = 0.04
    refunded: float = 0.03
    partially_refunded: float = 0.04


@dataclass(frozen=True)
class OrderProfile:
    """Web orders: who places them, what they hold, what becomes of them, how their timestamps are written."""

    by_chatters: float = 0.26  # orders by visitors who chatted
    by_linked_visitors: float = 0.015  # orders by offsite visitors recognised through an identity link
    by_guests: float = 0.03  # orders with no email, customer or visitor id
    # the orders of chatters, against the room: inside the attribution window, after it, before the first
    # message, after a room without dialogue
    chat_cases: tuple[float, ...] = (0.55, 0.2, 0.14, 0.11)
    web_visitor_id: float = 0.55  # chatters from the web widget whose order carries their visitor id
    known_email: float = 0.8  # chatters with an email known to the platform who order with it
    known_customer: float = 0.75  # chatters with a customer id known to the platform who order with it
    after_link: float = 0.9  # orders of linked visitors placed after the link was clicked
    shopper_email: float = 0.97  # orders of shoppers who never chatted that carry an email
    shopper_customer: float = 0.6  # ... a customer id
    shopper_visitor: float = 0.45  # ... a widget visitor id
    lines: tuple[float, ...] = (0.6, 0.28, 0.12)  # orders of 1, 2, 3 lines
    bought_shared: float = 0.5  # orders after a product shared in the chat whose first line is that product
    quantities: tuple[int, ...] = (1, 1, 1, 2, 3)  # a line's quantity, drawn uniformly from these
    first_flag_true: float = 0.85  # first orders the shop flags as first (its history starts before ours)
    first_flag_absent: float = 0.12  # orders without the flag
    pending: float = 0.03  # orders first exported as pending
    fates: OrderFates = OrderFates()
    pending_paid_later: float = 0.8  # pending orders with none of these fates that get paid later
    partial_refund: tuple[float, float] = (0.1, 0.6)  # share of the total refunded, drawn uniformly
    placed_at_utc: float = 0.3  # placed_at written in UTC ('Z'), else with the local offset
    updated_at_utc: float = 0.6  # updated_at written in UTC


@dataclass(frozen=True)
class ReceiptProfile:
    """POS receipts."""

    by_chatters: float = 0.15  # receipts by visitors whose dialogue ended days before
    shopper_email: float = 0.4  # other receipts with a known shopper's email
    local_time: float = 0.6  # sold_at written as local time without offset, else with the offset
    loyalty_id: float = 0.4
    returns: float = 0.05
    lines: tuple[float, ...] = (0.55, 0.3, 0.15)  # sales of 1, 2, 3 lines (a return has one)
    quantities: tuple[int, ...] = (1, 1, 2)  # a line's quantity, drawn uniformly from these


@dataclass(frozen=True)
class CommerceProfile:
    """Web orders, POS receipts, campaign clicks."""

    typed_emails: TypedEmails = TypedEmails()
    orders: OrderProfile = OrderProfile()
    receipts: ReceiptProfile = ReceiptProfile()
    orders_per_buyer_click: int = 15  # campaign clicks by buyers: one per this many web orders (at least 20)
    buyer_clicks_within_a_week: float = 0.65  # the rest 8 to 12 days before the order


@dataclass(frozen=True)
class DemoProfile:
    chat: ChatProfile = ChatProfile()
    commerce: CommerceProfile = CommerceProfile()


DEMO_PROFILE = DemoProfile()
