"""Listings for the TAXII and MISP export tests, made as members make them: signed reports."""

from __future__ import annotations

from typing import Any

from tests.hub.reports_support import hv, listing, rep, report


def seed_lists(
    hub: Any, blocked: int = 3, warned: int = 2, allowed: int = 1
) -> dict[str, set[str]]:
    """Tokens blocked (two members report), warned (one member), admin-allowlisted."""
    a, b = hub.new_member(), hub.new_member()
    tokens = {"phone-block": {hv() for _ in range(blocked)},
              "phone-warn": {hv() for _ in range(warned)},
              "phone-allow": {hv() for _ in range(allowed)}}
    for member in (a, b):
        sent = report(hub, member, [rep(v) for v in sorted(tokens["phone-block"])])
        assert sent.status_code in (200, 201, 202), sent.text
    if warned:
        sent = report(hub, a, [rep(v, confidence=85) for v in sorted(tokens["phone-warn"])])
        assert sent.status_code in (200, 201, 202), sent.text
    for value in tokens["phone-allow"]:
        out = hub.admin("POST", "/v1/admin/allowlist",
                        {"kind": "phone", "value": value, "key_epoch": 1, "note": "hotline"})
        assert out.status_code == 201, out.text
    assert {listing(hub, a, v)["tier"] for v in tokens["phone-block"]} <= {"block"}
    assert {listing(hub, a, v)["tier"] for v in tokens["phone-warn"]} <= {"warn"}
    return tokens
