"""Every input limit of the `/v1` API in one place, and the checks that run at the edge.

Why one module: an operator (and the table in docs/API.md, "Input limits")
needs a single answer to "what is the largest thing the hub accepts?", and a
limit that lives only in a validator somewhere is a limit nobody can find.
Limits that the SDK must agree on (batch sizes, string lengths) stay defined in
`schemas/` and are re-exported here; the rest are hub-only.

The checks below run before any handler parses a body, so a hostile body (a
gzip bomb, 100,000 nested brackets, a 4,000-digit number) is refused with a
4xx in bounded time and memory instead of reaching marshmallow or the database.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
from flask import Flask, request

from hub.errors import ApiError
from schemas.limits import MAX_PAGE_OFFSET, MAX_PAGE_SIZE
from schemas.reports import (
    MAX_BATCH_REPORTS,
    MAX_BODY_BYTES,
    MAX_CASE_INDICATORS,
    MAX_CASE_REF,
    MAX_LOOKUP_VALUES,
    MAX_RETRACT_ITEMS,
)

__all__ = [
    "MAX_BATCH_REPORTS",
    "MAX_BODY_BYTES",
    "MAX_CASE_INDICATORS",
    "MAX_CASE_REF",
    "MAX_JSON_DEPTH",
    "MAX_JSON_NUMBER_CHARS",
    "MAX_LOOKUP_VALUES",
    "MAX_PAGE_OFFSET",
    "MAX_PAGE_SIZE",
    "MAX_PUBLIC_BODY_BYTES",
    "MAX_PATH_INT",
    "MAX_PATH_PARAM_CHARS",
    "MAX_QUERY_STRING_BYTES",
    "MAX_RETRACT_ITEMS",
    "PUBLIC_BODY_LIMITS",
    "SCAN_CHUNK_BYTES",
    "ACCEPTED_CONTENT_ENCODINGS",
    "has_escaped_nul",
    "install_request_limits",
    "json_depth",
    "parse_json",
]

#: Deepest JSON nesting any endpoint accepts. The deepest legitimate body
#: (`POST /v1/cases`: object → list → object) is 3 levels deep.
MAX_JSON_DEPTH = 16
#: Longest JSON number literal (digits, sign, exponent), checked before conversion:
#: int() of thousands of digits is quadratic, and no field needs more than 20.
MAX_JSON_NUMBER_CHARS = 40
#: Longest query string (bytes) on any `/v1` request.
MAX_QUERY_STRING_BYTES = 4096
#: Longest single path parameter (member ids, token ids, feed names, artifact names).
MAX_PATH_PARAM_CHARS = 256
#: Largest integer path parameter (dispute ids): a 32-bit SQL INTEGER column.
MAX_PATH_INT = 2**31 - 1
#: Request bodies must not be compressed: decompressing is where bombs go off, and
#: a signed body must be hashed exactly as sent. `identity` is the only one accepted.
ACCEPTED_CONTENT_ENCODINGS = frozenset({"", "identity"})

#: Body limit (bytes) of the endpoints anyone may call without credentials: an
#: application or a sign-in is a few hundred bytes, so an outsider's body is
#: refused with 413 long before it costs memory. Members' signed endpoints keep
#: `LIANFANG_MAX_BODY_BYTES` (batches are large).
MAX_PUBLIC_BODY_BYTES = 16 * 1024
#: Flask endpoint → its smaller body limit.
PUBLIC_BODY_LIMITS = {
    "applications.apply": MAX_PUBLIC_BODY_BYTES,
    "admin_auth.admin_login": MAX_PUBLIC_BODY_BYTES,
    "console.login_submit": MAX_PUBLIC_BODY_BYTES,
}
#: The pre-parse scan looks at the body in slices of this many bytes, so the
#: memory it needs is a constant (a few MiB) whatever the body's size.
SCAN_CHUNK_BYTES = 64 * 1024

# Opening brackets become +1, closing -1, everything else is deleted.
_BRACKETS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[{]}")
_QUOTE, _BACKSLASH = 34, 92
# A run of backslashes (starting where no backslash precedes it) before `u0000`:
# an odd run means the last backslash starts the escape. `\\+` is a single-
# character repeat, which `re` backtracks over without a per-step stack.
_BACKSLASHES_BEFORE_NUL = re.compile(rb"(?<!\\)(\\+)u0000")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _outside_strings(chunk: bytes, escaped: bool, inside: bool) -> tuple[bytes, bool, bool]:
    """The bytes of `chunk` outside JSON string literals, given the state carried in.

    `escaped`: an odd run of backslashes ends the previous chunk; `inside`: the
    previous chunk ended inside a string. Returns (outside bytes, escaped, inside)
    for the next chunk. A quote is real when an even number of backslashes
    precede it, which numpy works out for the whole chunk at once.
    """
    chars = np.frombuffer((b"\\" if escaped else b"") + chunk, dtype=np.uint8)
    slashes = chars == _BACKSLASH
    count = np.cumsum(slashes, dtype=np.int32)
    run = count - np.maximum.accumulate(np.where(slashes, 0, count))
    preceding = np.concatenate(([0], run[:-1]))
    real_quote = (chars == _QUOTE) & (preceding % 2 == 0)
    opened = np.cumsum(real_quote, dtype=np.int32) + int(inside)
    outside = chars[(opened % 2) == 0].tobytes()
    return outside, bool(run[-1] % 2), bool(opened[-1] % 2)


def json_depth(raw: bytes, chunk_bytes: int = SCAN_CHUNK_BYTES) -> int:
    """The maximum bracket nesting of a JSON text, ignoring brackets inside strings.

    Runs at C speed (a few numpy passes, one translate, one cumsum per chunk), so
    it can guard `json.loads`, whose C parser recurses once per level. Why chunks:
    whole-body integer arrays cost 8 bytes per body byte several times over, and
    eight concurrent 8 MiB bodies of backslashes took the hub to 2.5 GiB.
    """
    depth = deepest = 0
    escaped = inside = False
    for start in range(0, len(raw), chunk_bytes):
        outside, escaped, inside = _outside_strings(
            raw[start : start + chunk_bytes], escaped, inside
        )
        steps = outside.translate(_BRACKETS, _NOT_BRACKETS)
        if steps:
            levels = np.frombuffer(steps, dtype=np.int8).astype(np.int32).cumsum() + depth
            deepest = max(deepest, int(levels.max()))
            depth = int(levels[-1])
    return deepest


def _bounded_number(text: str) -> None:
    if len(text) > MAX_JSON_NUMBER_CHARS:
        raise ApiError(
            400,
            "invalid_json",
            f"a JSON number is longer than {MAX_JSON_NUMBER_CHARS} characters",
        )


def _parse_int(text: str) -> int:
    _bounded_number(text)
    return int(text)


def _parse_float(text: str) -> float:
    _bounded_number(text)
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ApiError(400, "invalid_json", "a JSON number is out of range")
    return value


def _refuse_constant(name: str) -> Any:
    raise ApiError(400, "invalid_json", f"{name} is not valid JSON")


def has_escaped_nul(raw: bytes) -> bool:
    """True when a JSON text holds a `\\u0000` escape (a NUL character in a string).

    A plain substring test finds candidates at C speed; then each run of
    backslashes before `u0000` is measured: an even run is escaped backslashes
    followed by the text `u0000`, which is not a NUL.
    """
    if b"\\u0000" not in raw:
        return False
    return any(len(m.group(1)) % 2 for m in _BACKSLASHES_BEFORE_NUL.finditer(raw))


def parse_json(raw: bytes) -> Any:
    """Parse a request body within the limits above; ApiError 400/422 on anything else.

    NUL characters are refused in every string: no field means anything by them,
    and PostgreSQL text columns cannot store them (a NUL reaching the database
    was a 500 on PostgreSQL only, found by probing the fuzzer's inputs there).
    """
    if json_depth(raw) > MAX_JSON_DEPTH:
        raise ApiError(
            400, "json_too_deep", f"JSON nesting deeper than {MAX_JSON_DEPTH} levels"
        )
    if has_escaped_nul(raw):
        raise ApiError(
            422,
            "validation_error",
            "strings must not contain NUL characters",
            fields={"_schema": ["strings must not contain NUL (\\u0000) characters"]},
        )
    try:
        text = raw.decode("utf-8")
        return json.loads(
            text,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_refuse_constant,
        )
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ApiError(400, "invalid_json", "the request body is not valid JSON") from None


def _check_request() -> None:
    """`before_request`: refuse compressed bodies and oversized query strings / path parts."""
    limit = PUBLIC_BODY_LIMITS.get(request.endpoint or "")
    if limit is not None:
        request.max_content_length = limit  # also bounds a body sent without a length
    if not request.path.startswith("/v1"):
        return
    encoding = request.headers.get("Content-Encoding", "").strip().lower()
    if encoding not in ACCEPTED_CONTENT_ENCODINGS:
        raise ApiError(
            415,
            "unsupported_content_encoding",
            "compressed request bodies are not accepted; send Content-Encoding: identity",
        )
    if len(request.query_string) > MAX_QUERY_STRING_BYTES:
        raise ApiError(
            414, "uri_too_long", f"query string longer than {MAX_QUERY_STRING_BYTES} bytes"
        )
    for value in (request.view_args or {}).values():
        if isinstance(value, str) and (
            len(value) > MAX_PATH_PARAM_CHARS or _CONTROL.search(value)
        ):
            # No id, name or hash has control characters (and PostgreSQL cannot even
            # compare a NUL): such a path names nothing.
            raise ApiError(404, "not_found", "no such resource (malformed path parameter)")
        if isinstance(value, int) and not 0 <= value <= MAX_PATH_INT:
            # Flask's int converter takes any number of digits; the database does not.
            raise ApiError(404, "not_found", "no such resource (id out of range)")


def install_request_limits(app: Flask) -> None:
    """Register the edge checks on `app` (called by `create_app`)."""
    app.before_request(_check_request)
