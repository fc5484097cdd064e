"""Lianfang client SDK: hashing, feed sync and call screening for member institutions.

`client_sdk` never imports `hub`: it talks to the hub over HTTP only.
"""

from client_sdk.errors import SyncError
from client_sdk.feed_client import FeedClient, FeedStatus, SyncResult
from client_sdk.hashing import (
    InvalidIndicator,
    hash_indicator,
    hash_normalized,
    keyed_simhash64,
    normalize,
    normalize_phone,
    simhash64,
    simhash_distance,
)
from client_sdk.member_client import HubError, MemberClient, ReportResult
from client_sdk.publication import FeedView, Publication
from client_sdk.screener import CallScreener, Verdict

__all__ = [
    "CallScreener",
    "FeedClient",
    "FeedStatus",
    "FeedView",
    "HubError",
    "InvalidIndicator",
    "MemberClient",
    "Publication",
    "ReportResult",
    "SyncError",
    "SyncResult",
    "Verdict",
    "hash_indicator",
    "hash_normalized",
    "keyed_simhash64",
    "normalize",
    "normalize_phone",
    "simhash64",
    "simhash_distance",
]
