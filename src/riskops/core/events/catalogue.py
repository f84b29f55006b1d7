"""One payload model per event type. Unknown payload fields are not rejected: parsing moves
them to the event's ``extensions`` map. Nested objects (addresses, items) are strict.

Versioning: each type has a current ``schema_version``; a payload model change that is not
backwards compatible gets a new version number and the old model stays registered under it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from riskops.core.events.common import (
    MAX_AMOUNT,
    Address,
    Amount,
    Channel,
    Currency,
    Id,
    LineItem,
    PaymentMethod,
)


class Payload(BaseModel):
    """Base of every payload model. ``extra="allow"`` lets parsing find unknown fields, which
    it then moves to ``Event.extensions``."""

    model_config = ConfigDict(extra="allow", frozen=True, str_strip_whitespace=True)


# --- accounts and sessions ---------------------------------------------------------------
class UserRegistered(Payload):
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=40)
    channel: Channel | None = None
    referrer_user_id: Id | None = None
    signup_method: str | None = None


class LoginSucceeded(Payload):
    method: Literal["password", "otp", "sso", "biometric", "token", "other"] | None = None
    username: str | None = Field(default=None, max_length=254)


class LoginFailed(Payload):
    reason: str | None = Field(default=None, max_length=200)
    username: str | None = Field(default=None, max_length=254)


class SessionStarted(Payload):
    session_id: Id
    channel: Channel
    source: str | None = Field(default=None, max_length=200)
    campaign: str | None = Field(default=None, max_length=200)
    referrer_user_id: Id | None = None
    landing_page: str | None = Field(default=None, max_length=2000)


class PageViewed(Payload):
    page: str = Field(min_length=1, max_length=2000)
    session_id: Id | None = None
    page_type: str | None = None
    dwell_ms: int | None = Field(default=None, ge=0, le=86_400_000)
    sku: Id | None = None


class SearchPerformed(Payload):
    query: str = Field(max_length=1000)
    session_id: Id | None = None
    results_count: int | None = Field(default=None, ge=0)


# --- cart and checkout -------------------------------------------------------------------
class CartItemChanged(Payload):
    sku: Id
    qty: int = Field(default=1, ge=1, le=100_000)
    merchant_id: Id | None = None
    price: Amount | None = None
    currency: Currency | None = None
    cart_id: Id | None = None
    session_id: Id | None = None


class CheckoutStarted(Payload):
    cart_id: Id | None = None
    session_id: Id | None = None
    amount: Amount | None = None
    currency: Currency | None = None
    items_count: int | None = Field(default=None, ge=0)


class OrderPlaced(Payload):
    order_id: Id
    items: list[LineItem] = Field(min_length=1, max_length=500)
    amount: Amount | None = Field(
        default=None, description="Order total; defaults to the sum of price × qty."
    )
    currency: Currency
    coupon_codes: list[Id] = Field(default_factory=list, max_length=20)
    payment_method: PaymentMethod
    payment_instrument: Id | None = Field(
        default=None, description="Token of the card / wallet / account, never a raw number."
    )
    shipping_address: Address | None = None
    session_id: Id | None = None

    @model_validator(mode="after")
    def _fill_amount(self) -> OrderPlaced:
        if self.amount is None:
            total = round(sum(item.price * item.qty for item in self.items), 2)
            object.__setattr__(self, "amount", total)
        return self

    @field_validator("items")
    @classmethod
    def _items_total(cls, items: list[LineItem]) -> list[LineItem]:
        total = sum(item.price * item.qty for item in items)
        if total > MAX_AMOUNT:
            raise ValueError(f"the items add up to {total:.3g}, over the limit of {MAX_AMOUNT:.0e}")
        return items


class PaymentResult(Payload):
    order_id: Id
    amount: Amount
    currency: Currency
    payment_method: PaymentMethod | None = None
    payment_instrument: Id | None = None
    failure_reason: str | None = Field(default=None, max_length=200)


# --- fulfilment and after-sales ----------------------------------------------------------
class OrderRef(Payload):
    order_id: Id
    merchant_id: Id | None = None
    reason: str | None = Field(default=None, max_length=500)


class OrderShipped(OrderRef):
    carrier: str | None = None
    tracking_id: str | None = None


class OrderDelivery(OrderRef):
    shipping_address: Address | None = Field(
        default=None, description="Where the parcel went (the carrier's record)."
    )


class OrderCancelled(OrderRef):
    cancelled_by: Literal["buyer", "merchant", "platform", "risk"] | None = None


class ReturnRequested(OrderRef):
    amount: Amount | None = None
    currency: Currency | None = None
    skus: list[Id] = Field(default_factory=list)


class RefundRequested(OrderRef):
    refund_id: Id | None = None
    amount: Amount
    currency: Currency


class RefundIssued(OrderRef):
    refund_id: Id | None = None
    amount: Amount
    currency: Currency
    express: bool | None = None


class DisputeOpened(OrderRef):
    dispute_id: Id
    amount: Amount | None = None
    currency: Currency | None = None


class DisputeResolved(Payload):
    dispute_id: Id
    order_id: Id | None = None
    merchant_id: Id | None = None
    outcome: Literal["buyer_won", "merchant_won", "split", "withdrawn"]


class ChargebackReceived(OrderRef):
    amount: Amount
    currency: Currency
    reason_code: str | None = None


class ReviewPosted(Payload):
    sku: Id
    rating: int = Field(ge=1, le=5)
    order_id: Id | None = None
    merchant_id: Id | None = None
    text: str | None = Field(default=None, max_length=10_000)
    language: str | None = Field(default=None, max_length=35)


# --- promotions, accounts, merchants, listings -------------------------------------------
class CouponClaimed(Payload):
    coupon_code: Id
    campaign_id: Id | None = None
    value: Amount | None = None
    currency: Currency | None = None


class CouponRedeemed(CouponClaimed):
    order_id: Id
    discount_amount: Amount | None = None


class AddressChanged(Payload):
    address: Address
    address_type: Literal["shipping", "billing"] = "shipping"


class ListingCreated(Payload):
    listing_id: Id
    merchant_id: Id
    sku: Id
    title: str = Field(min_length=1, max_length=500)
    category: str | None = None
    price: Amount
    was_price: Amount | None = Field(default=None, description="The 'original' price shown.")
    currency: Currency


class ListingUpdated(Payload):
    listing_id: Id
    merchant_id: Id
    sku: Id | None = None
    title: str | None = Field(default=None, max_length=500)
    price: Amount | None = None
    was_price: Amount | None = None
    currency: Currency | None = None


class MerchantOnboarded(Payload):
    merchant_id: Id
    name: str | None = Field(default=None, max_length=300)
    category: str | None = None
    country: str | None = Field(default=None, min_length=2, max_length=2)


class ComplaintFiled(Payload):
    category: str = Field(min_length=1, max_length=100)
    complaint_id: Id | None = None
    merchant_id: Id | None = None
    order_id: Id | None = None
    sku: Id | None = None
    text: str | None = Field(default=None, max_length=10_000)


LabelKind = Literal[
    "legit",
    "fraud",
    "brushing",
    "coupon_abuse",
    "account_takeover",
    "cod_refusal",
    "refund_abuse",
    "scraping",
    "fake_discount",
    "counterfeit",
    "chargeback",
]


class LabelReported(Payload):
    """Ground truth that arrives later: a case outcome, a chargeback, confirmed brushing."""

    label: LabelKind
    entity_type: Literal[
        "event", "order", "user", "device", "merchant", "listing", "address", "coupon"
    ]
    entity_id: Id
    source: Literal["case", "chargeback", "manual", "confirmed_brushing", "simulator", "import"]
    target_event_id: Id | None = None
    note: str | None = Field(default=None, max_length=2000)


@dataclass(frozen=True, slots=True)
class EventType:
    name: str
    version: int
    payload: type[Payload]
    summary: str


_TYPES: list[EventType] = [
    EventType("user.registered", 1, UserRegistered, "A new account was created."),
    EventType("login.succeeded", 1, LoginSucceeded, "A user logged in."),
    EventType("login.failed", 1, LoginFailed, "A login attempt failed."),
    EventType("session.started", 1, SessionStarted, "A visit began, with its channel."),
    EventType("page.viewed", 1, PageViewed, "A page was viewed, with dwell time."),
    EventType("search.performed", 1, SearchPerformed, "A search was run."),
    EventType("cart.item_added", 1, CartItemChanged, "An item was put in the cart."),
    EventType("cart.item_removed", 1, CartItemChanged, "An item was taken out of the cart."),
    EventType("checkout.started", 1, CheckoutStarted, "Checkout began."),
    EventType("order.placed", 1, OrderPlaced, "An order was placed."),
    EventType("payment.succeeded", 1, PaymentResult, "A payment went through."),
    EventType("payment.failed", 1, PaymentResult, "A payment was declined or failed."),
    EventType("order.shipped", 1, OrderShipped, "The merchant shipped the order."),
    EventType("order.delivered", 1, OrderDelivery, "The order was delivered and accepted."),
    EventType(
        "order.cod_refused", 1, OrderDelivery, "The buyer refused a cash-on-delivery parcel."
    ),
    EventType("order.cancelled", 1, OrderCancelled, "The order was cancelled."),
    EventType("return.requested", 1, ReturnRequested, "The buyer asked to return items."),
    EventType("refund.requested", 1, RefundRequested, "The buyer asked for a refund."),
    EventType("refund.issued", 1, RefundIssued, "A refund was paid."),
    EventType("dispute.opened", 1, DisputeOpened, "A dispute was opened."),
    EventType("dispute.resolved", 1, DisputeResolved, "A dispute was decided."),
    EventType("chargeback.received", 1, ChargebackReceived, "The card network charged back."),
    EventType("review.posted", 1, ReviewPosted, "A product review was posted."),
    EventType("coupon.claimed", 1, CouponClaimed, "A coupon was claimed."),
    EventType("coupon.redeemed", 1, CouponRedeemed, "A coupon was used on an order."),
    EventType("address.changed", 1, AddressChanged, "A user added or changed an address."),
    EventType("listing.created", 1, ListingCreated, "A merchant published a listing."),
    EventType("listing.updated", 1, ListingUpdated, "A listing's price or text changed."),
    EventType("merchant.onboarded", 1, MerchantOnboarded, "A merchant joined the platform."),
    EventType("complaint.filed", 1, ComplaintFiled, "A complaint about a merchant or order."),
    EventType("label.reported", 1, LabelReported, "Ground truth for an earlier event/entity."),
]

CATALOGUE: dict[str, EventType] = {t.name: t for t in _TYPES}
"""Current version of every event type, by name."""

VERSIONS: dict[tuple[str, int], EventType] = {(t.name, t.version): t for t in _TYPES}
"""Every registered (type, version)."""
