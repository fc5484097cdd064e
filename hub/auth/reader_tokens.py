"""Reader access: a member's bearer reader token (`lfr_…`) or a member signature."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import g, request

from hub import db
from hub.auth.member_signature import authenticate_member, has_signature_headers
from hub.errors import ApiError
from hub.ratelimit import check_reader
from hub.services.tokens import reader_token_lookup

F = TypeVar("F", bound=Callable[..., Any])


def bearer_token() -> str | None:
    """The token of an `Authorization: Bearer …` header, or None."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


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
