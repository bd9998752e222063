"""Tables of the store (SQLAlchemy Core). Changes go through an Alembic migration as well."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import DateTime, TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

UNSETTLED_WHERE = "status IN ('pending', 'delivering')"
"""The deliveries a deliverer may still change, as SQL (``push.status.UNSETTLED``)."""
DELIVERED = "delivered"
"""``push.status.DeliveryStatus.DELIVERED``, for the condition of a partial index."""

# One row per file that is a document: what it looked like when last read, and its item.
documents = Table(
    "documents",
    metadata,
    Column("key", String(1024), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("mtime_ns", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("first_seen", UTCDateTime(), nullable=False),
    # The last good parse (orjson of the Item), kept when a later edit breaks the file.
    Column("item", LargeBinary, nullable=True),
    Column("problems", Text, nullable=False, default="[]"),
)

# One row per item ever visible or known: its state and what was last announced.
items = Table(
    "items",
    metadata,
    Column("key", String(1024), primary_key=True),
    Column("item_id", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("published_at", UTCDateTime(), nullable=True),
    Column("updated_at", UTCDateTime(), nullable=True),
    Column("version", String(64), nullable=False),
    # The last JSON Feed item announced, so an unpublished event can still say what it was.
    Column("data", Text, nullable=False),
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("type", String(32), nullable=False),
    Column("item_key", String(1024), nullable=False),
    Column("item_id", Text, nullable=False),
    Column("occurred_at", UTCDateTime(), nullable=False),
    # The webhook ``data``: a JSON Feed 1.1 item with ``_syndicator``.
    Column("data", Text, nullable=False),
    # Retention walks events by age (0004).
    Index("ix_events_occurred_at", "occurred_at"),
    # An item's events, for the console (0005).
    Index("ix_events_item_key", "item_key", "id"),
)

settings = Table(
    "settings",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

# Webhook subscriptions. Filters are JSON lists of slugs / event types; empty = everything.
subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("url", Text, nullable=False),
    Column("secret", Text, nullable=False),
    Column("categories", Text, nullable=False),
    Column("tags", Text, nullable=False),
    Column("event_types", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("disabled_reason", Text, nullable=True),
    # Start of the current run of failed attempts; None after any success.
    Column("failing_since", UTCDateTime(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
)

# The outbox: one row per (event, webhook subscription), written with the event, or per
# (feed change, WebSub subscription), written after the scan that changed the feed.
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", Integer, ForeignKey("events.id"), nullable=True),
    Column(
        "subscription_id",
        String(40),
        ForeignKey("subscriptions.id", ondelete="CASCADE"),
        nullable=True,
    ),
    Column("message_id", String(80), nullable=False, unique=True),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime(), nullable=False),
    Column("lease_until", UTCDateTime(), nullable=True),
    Column("last_status", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("delivered_at", UTCDateTime(), nullable=True),
    # Set instead of event_id and subscription_id for WebSub content distribution (0003).
    Column(
        "websub_subscription_id",
        String(40),
        ForeignKey("websub_subscriptions.id", ondelete="CASCADE"),
        nullable=True,
    ),
    # On PostgreSQL these two hold only the rows their queries ask for (0008): every claim and
    # settlement rewrites a delivery row with an entry in each index, so a settled delivery
    # (most of the table) is not written to the due index, nor a webhook delivery to the WebSub
    # one. The statuses are push.status.UNSETTLED (the schema comes before push).
    Index(
        "ix_deliveries_due",
        "status",
        "next_attempt_at",
        postgresql_where=text(UNSETTLED_WHERE),
    ),
    Index(
        "ix_deliveries_websub_subscription",
        "websub_subscription_id",
        postgresql_where=text("websub_subscription_id IS NOT NULL"),
    ),
    # Retention deletes an event's deliveries once none is unsettled (0006), and WebSub ones
    # by age.
    Index("ix_deliveries_event_status", "event_id", "status"),
    # With the status, so the console's counts of a period read the index alone (0005).
    Index("ix_deliveries_created_at_status", "created_at", "status"),
    # A subscription's deliveries, newest first, all or by status (the console, 0005).
    Index("ix_deliveries_subscription", "subscription_id", "id"),
    # On PostgreSQL without the delivered ones (0009): their entries, scattered over the
    # subscriptions, were the dearest of a settlement's; a subscription's delivered rows are
    # read from the index above, newest first, where most of its rows are delivered ones.
    Index(
        "ix_deliveries_subscription_status",
        "subscription_id",
        "status",
        "id",
        postgresql_where=text(f"status <> '{DELIVERED}'"),
    ),
    Index("ix_deliveries_status", "status", "id"),
    CheckConstraint(
        "(subscription_id IS NULL) <> (websub_subscription_id IS NULL)",
        name="ck_deliveries_one_endpoint",
    ),
)

# The attempt log. No foreign key to the delivery (0007): ``push.attempts`` writes and deletes
# the rows so that none outlives its delivery, without a lock per attempt logged.
delivery_attempts = Table(
    "delivery_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("delivery_id", Integer, nullable=False),
    Column("attempted_at", UTCDateTime(), nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("duration_ms", Float, nullable=False),
    Column("error", Text, nullable=True),
    # delivered, gone or failed: judged once, when the attempt is made (0004).
    Column("outcome", String(16), nullable=True),
    # The first bytes of the endpoint's reply, for people reading why it refused (0005).
    Column("reply", Text, nullable=True),
    Index("ix_delivery_attempts_delivery", "delivery_id"),
)

# Totals of the delivery metrics, added to as attempts are settled so that a scrape never
# reads the attempt log (0004). Each deliverer process adds to one of a few shards, so that
# several deliverers on PostgreSQL seldom wait on each other's counter rows.
push_counters = Table(
    "push_counters",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("shard", Integer, primary_key=True),
    Column("value", Float, nullable=False),
)

# WebSub subscribers (W3C WebSub §5.1): one row per (feed, callback), active until expires_at.
websub_subscriptions = Table(
    "websub_subscriptions",
    metadata,
    # "ws_" and a digest of (path, callback), so a re-subscription finds and renews its row.
    Column("id", String(40), primary_key=True),
    # The feed's file in the output folder, and the topic URL as the subscriber gave it.
    Column("path", String(1024), nullable=False),
    Column("topic", Text, nullable=False),
    Column("callback", Text, nullable=False),
    # hub.secret, "" when none was given (then distributions are not signed).
    Column("secret", Text, nullable=False),
    Column("lease_seconds", Integer, nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    # sha256 of the feed as last queued for this subscriber (or as it was at verification).
    Column("content_sha256", String(64), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("renewed_at", UTCDateTime(), nullable=False),
    Index("ix_websub_subscriptions_path", "path"),
)

# Hub requests answered 202 whose intent is still to be verified (W3C WebSub §5.3).
websub_requests = Table(
    "websub_requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # The websub_subscriptions id the request is about: requests for one id run in order.
    Column("subscription_id", String(40), nullable=False),
    # The validated request (mode, topic, path, callback, lease_seconds, secret) as JSON.
    Column("request", Text, nullable=False),
    Column("requested_at", UTCDateTime(), nullable=False),
    # A hub process is verifying it until then; past it, another takes over.
    Column("lease_until", UTCDateTime(), nullable=True),
)

# Signed-in operator console sessions (0005): the digest of the cookie's secret, never the
# secret itself, and the CSRF token its forms carry.
console_sessions = Table(
    "console_sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("csrf", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Index("ix_console_sessions_expires_at", "expires_at"),
)
