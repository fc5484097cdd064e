"""All models, imported so `Base.metadata` knows every table (Alembic, tests).

Add your module to the import list when you add a model.
"""

from hub.models.admin import Admin
from hub.models.allowlist import AllowlistConflictDecision, AllowlistEntry, AllowlistNumber
from hub.models.audit import AuditEntry, AuditHead, AuditVerified
from hub.models.base import Base, UTCDateTime
from hub.models.case import Case, CaseBridge, CaseIndicator, ComplaintGroup
from hub.models.consortium import ConsortiumKey
from hub.models.dispute import Dispute
from hub.models.feed import BuildLease, FeedState, FeedVersion
from hub.models.feed_change import FeedChange
from hub.models.indicator import Indicator
from hub.models.listing import Listing
from hub.models.member import Member
from hub.models.nonce import SeenNonce
from hub.models.oprf import OprfKey
from hub.models.quota import QuotaUsage
from hub.models.report import MemberStanding, PendingMerge, Report, ReportBatch
from hub.models.tokens import AdminToken, ReaderToken
from hub.models.verified_number import VerifiedNumber
from hub.models.webhook import Webhook, WebhookDelivery

__all__ = [
    "AllowlistConflictDecision",
    "AllowlistEntry",
    "AllowlistNumber",
    "Case",
    "CaseBridge",
    "CaseIndicator",
    "ComplaintGroup",
    "Dispute",
    "BuildLease",
    "FeedChange",
    "FeedState",
    "FeedVersion",
    "Indicator",
    "Listing",
    "VerifiedNumber",
    "MemberStanding",
    "PendingMerge",
    "OprfKey",
    "Report",
    "ReportBatch",
    "QuotaUsage",
    "Admin",
    "AdminToken",
    "AuditEntry",
    "AuditHead",
    "AuditVerified",
    "Base",
    "ConsortiumKey",
    "Member",
    "ReaderToken",
    "SeenNonce",
    "UTCDateTime",
    "Webhook",
    "WebhookDelivery",
]
