"""The vocabularies of the outbox, defined once: what state a delivery is in, and what kind of
endpoint it goes to. The CLI's choices, the API's schema and the store's values all read these.
"""

from __future__ import annotations

from enum import StrEnum


class DeliveryStatus(StrEnum):
    """Where a delivery is: waiting (``pending``), taken by a deliverer under a lease
    (``delivering``), or settled for good (the other three)."""

    PENDING = "pending"
    DELIVERING = "delivering"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"


class DeliveryKind(StrEnum):
    """A webhook subscription's event, or a WebSub subscriber's feed document."""

    WEBHOOK = "webhook"
    WEBSUB = "websub"


SETTLED = (DeliveryStatus.DELIVERED, DeliveryStatus.FAILED, DeliveryStatus.CANCELLED)
"""States no deliverer will change again: what retention may delete once old enough."""
UNSETTLED = (DeliveryStatus.PENDING, DeliveryStatus.DELIVERING)
