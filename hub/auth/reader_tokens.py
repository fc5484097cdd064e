"""Reader access: a member's bearer reader token (`lfr_…`) or a member signature.

A reader token is what every call-screener device holds, so it is scoped to what
a screener needs: the phone feeds and the phone hashing key. Whoever extracts one
from a device must not get the identity indicators (ID numbers, e-mail, bank
accounts: enumerable spaces) of the complaint-groups feed or anything about
cases; those need a signed request of an approved member (issue 14).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import g, request

from hub import db
from hub.auth.bearer import bearer_token
from hub.auth.member_signature import authenticate_member, has_signature_headers
from hub.errors import ApiError
from hub.ratelimit import check_reader
from hub.services.tokens import reader_token_lookup
from schemas.enums import PHONE_FEEDS, Feed

F = TypeVar("F", bound=Callable[..., Any])


__all__ = ["authenticate_reader", "authenticate_taxii", "bearer_token", "require_feed_scope",
           "require_reader_or_member", "require_signed_member"]

READER_FEEDS = frozenset(PHONE_FEEDS)
"""The feeds a reader token may read; every other feed is for signed members only."""


def require_signed_member(what: str) -> None:
    """403 `reader_scope` when the caller authenticated with a reader token, not a signature."""
    if g.get("reader_token") is not None:
        raise ApiError(403, "reader_scope",
                       f"reader tokens cannot read {what}; send a signed member request")


def require_feed_scope(feed: Feed) -> None:
    """A reader token reads the phone feeds only (call after `authenticate_reader`)."""
    if feed not in READER_FEEDS:
        require_signed_member(f"the {feed.value} feed")


def authenticate_reader() -> None:
    """Set `g.member` and `g.reader_token` from a reader token or a member signature."""
    token = bearer_token()
    if token is not None:
        row, member = reader_token_lookup(db.session(), token)
        g.member, g.reader_token = member, row
        check_reader(row.id, member.id)
        return
    if request.headers.get("Authorization"):
        raise ApiError(401, "invalid_token", "use 'Authorization: Bearer lfr_…'")
    if not has_signature_headers():
        raise ApiError(
            401,
            "missing_signature",
            "send a reader token (Authorization: Bearer lfr_…) or a signed member request",
        )
    g.member, g.reader_token = authenticate_member(), None
    check_reader(None, g.member.id)


def require_reader_or_member(fn: F) -> F:
    """Decorator: a live reader token of an approved member, or a signed member request.

    Sets `g.member` (the token's owner or the signer) and `g.reader_token`
    (the ReaderToken row, or None for a signed request).
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        authenticate_reader()
        return fn(*args, **kwargs)

    return cast(F, wrapper)


def authenticate_taxii() -> None:
    """Set `g.member` from a member's TAXII token (`scope: taxii`, `lft_…`).

    TAXII clients (taxii2-client, OpenCTI, MISP) send HTTP Basic, so the token is
    accepted as the Basic password (any user name, e.g. the member id) or as a
    Bearer token. A screener's `lfr_` reader token is refused: one extracted from
    a device must not open a bulk, paged read of the lists with their scores.
    """
    token = bearer_token()
    if token is None and request.authorization is not None:
        token = request.authorization.password or None
    if token is None:
        raise ApiError(401, "missing_token",
                       "send a TAXII token (scope taxii) as the HTTP Basic password "
                       "or as 'Authorization: Bearer lft_…'",
                       headers={"WWW-Authenticate": 'Basic realm="lianfang-taxii"'})
    row, member = reader_token_lookup(db.session(), token, scope="taxii")
    g.member, g.reader_token = member, row
    check_reader(row.id, member.id)
