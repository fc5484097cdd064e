"""All models, imported so `Base.metadata` knows every table (Alembic, tests).

Add your module to the import list when you add a model.
"""

from hub.models.admin import Admin
from hub.models.audit import AuditEntry, AuditHead
from hub.models.base import Base, UTCDateTime
from hub.models.consortium import ConsortiumKey
from hub.models.member import Member
from hub.models.nonce import SeenNonce
from hub.models.tokens import AdminToken, ReaderToken

__all__ = [
    "Admin",
    "AdminToken",
    "AuditEntry",
    "AuditHead",
    "Base",
    "ConsortiumKey",
    "Member",
    "ReaderToken",
    "SeenNonce",
    "UTCDateTime",
]
