"""Closed vocabularies of the protocol (docs/ARCHITECTURE.md §2-§5)."""

from __future__ import annotations

from enum import StrEnum


class IndicatorKind(StrEnum):
    PHONE = "phone"
    ID_NUMBER = "id_number"
    EMAIL = "email"
    BANK_ACCOUNT = "bank_account"
    DEVICE = "device"
    COMPLAINT_TEXT = "complaint_text"
    GROUP_TAG = "group_tag"


class Category(StrEnum):
    FRAUD = "fraud"
    HARASSMENT = "harassment"
    SPOOFING = "spoofing"
    ROBOCALL = "robocall"
    DEBT_COLLECTION_ABUSE = "debt_collection_abuse"
    MALICIOUS_COMPLAINT = "malicious_complaint"
    LEGIT = "legit"


class MemberKind(StrEnum):
    BANK = "bank"
    LENDER = "lender"
    INSURER = "insurer"
    PAYMENT = "payment"
    TELECOM = "telecom"
    OTHER = "other"


class MemberState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


class Tier(StrEnum):
    BLOCK = "block"
    WARN = "warn"
    ALLOW = "allow"
    NONE = "none"


class Feed(StrEnum):
    PHONE_BLOCK = "phone-block"
    PHONE_WARN = "phone-warn"
    PHONE_ALLOW = "phone-allow"
    COMPLAINT_GROUPS = "complaint-groups"


PHONE_FEEDS: tuple[Feed, ...] = (Feed.PHONE_BLOCK, Feed.PHONE_WARN, Feed.PHONE_ALLOW)


class EpochState(StrEnum):
    """A consortium-key epoch: `current` (one), `retiring` (still accepted and in the
    feeds), `retired` (refused, out of the feeds). Stored in `consortium_keys.state`."""

    CURRENT = "current"
    RETIRING = "retiring"
    RETIRED = "retired"


USABLE_EPOCH_STATES: tuple[EpochState, ...] = (EpochState.CURRENT, EpochState.RETIRING)


class ReportState(StrEnum):
    """A stored report: only `active` ones count in the merge. Stored in `reports.state`."""

    ACTIVE = "active"
    OVERTURNED = "overturned"
    RETRACTED = "retracted"


class DisputeState(StrEnum):
    """A dispute: `open` holds its indicator out of `block` until an admin decides."""

    OPEN = "open"
    PENDING = "pending"  # reopened in a cool-off with new evidence: holds nothing until accepted
    UPHELD = "upheld"
    DELISTED = "delisted"
