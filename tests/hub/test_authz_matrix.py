"""Authorization matrix: every `/v1` operation × every kind of caller → the expected status.

The operations come from the OpenAPI table (`hub.api.openapi.OPERATIONS`) and
test_openapi.py proves the table covers every Flask route, so a new endpoint
either gets a row (and is checked here by its `auth`) or fails the suite.
"Allowed" means: not 401/403, not 5xx, and a status the spec documents for
the operation — the request itself may still be a 404 or 422 (empty bodies,
made-up ids): authorization is decided before any of that.
Runs on SQLite and PostgreSQL (`live_hub`), one hub per database.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import requests

from hub.api.openapi import OPERATIONS, Auth, Operation, build_spec
from tests.helpers.hub import ADMIN_PASSWORD, ADMIN_USERNAME
from tests.hub.hardening_support import Anonymous, Bearer, MemberSignature, mint_reader_token

ALLOWED = "allowed"
CALLERS = (
    "anonymous", "pending", "approved", "suspended", "revoked",
    "reader_token", "revoked_token", "admin",
)
EXPECTED: dict[Auth, dict[str, int | str]] = {
    Auth.PUBLIC: dict.fromkeys(CALLERS, ALLOWED),
    Auth.MEMBER: {
        "anonymous": 401, "pending": 403, "approved": ALLOWED, "suspended": 403,
        "revoked": 403, "reader_token": 403, "revoked_token": 401, "admin": 401,
    },
    Auth.READER: {
        "anonymous": 401, "pending": 403, "approved": ALLOWED, "suspended": 403,
        "revoked": 403, "reader_token": ALLOWED, "revoked_token": 401, "admin": 401,
    },
    Auth.ADMIN: {
        "anonymous": 401, "pending": 403, "approved": 403, "suspended": 403,
        "revoked": 403, "reader_token": 403, "revoked_token": 403, "admin": ALLOWED,
    },
}
# Values for path parameters without an enum in the spec.
PATH_SAMPLES: dict[str, Callable[[dict[str, str]], str]] = {
    "member_id": lambda ctx: ctx["target_member"],
    "token_id": lambda ctx: "rdt_" + "0" * 16,
    "webhook_id": lambda ctx: "whk_" + "0" * 16,
    "value": lambda ctx: secrets.token_hex(32),
    "name": lambda ctx: "0" * 64 + ".lfa",
    "dispute_id": lambda ctx: "1",
    "case_id": lambda ctx: "1",
    "group_id": lambda ctx: "g-0000000000000000",
    "batch_id": lambda ctx: "b_" + "0" * 20,
    "registration_id": lambda ctx: "1",
}


def _path(op: Operation, ctx: dict[str, str]) -> str:
    path = op.path
    for name, schema in op.path_params.items():
        value = schema["enum"][0] if "enum" in schema else PATH_SAMPLES[name](ctx)
        path = path.replace("{" + name + "}", value)
    return path


def _body(op: Operation) -> Any:
    if op.endpoint == "admin_auth.admin_login":
        return {"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD}
    return {} if op.body is not None else None


def _setup_callers(hub: Any) -> tuple[dict[str, requests.auth.AuthBase], dict[str, str]]:
    approved = hub.new_member()
    pending = hub.new_member(approve=False)
    suspended = hub.new_member()
    revoked = hub.new_member()
    for (member_id, _), action in ((suspended, "suspend"), (revoked, "revoke")):
        answer = hub.admin("POST", f"/v1/admin/members/{member_id}/{action}",
                           json={"reason": "authorization matrix"})
        assert answer.status_code == 200, answer.text
    _, reader = mint_reader_token(hub, *approved)
    dead_id, dead = mint_reader_token(hub, *approved)
    assert hub.member(*approved, "DELETE", f"/v1/reader-tokens/{dead_id}").status_code == 200
    target, _ = hub.new_member(approve=False)
    callers: dict[str, requests.auth.AuthBase] = {
        "anonymous": Anonymous(),
        "pending": MemberSignature(*pending),
        "approved": MemberSignature(*approved),
        "suspended": MemberSignature(*suspended),
        "revoked": MemberSignature(*revoked),
        "reader_token": Bearer(reader),
        "revoked_token": Bearer(dead),
        "admin": Bearer(hub.admin_token),
    }
    return callers, {"target_member": target}


def _fresh_admin(hub: Any) -> Bearer:
    answer = hub.http.post(hub.url + "/v1/admin/login", timeout=30,
                           json={"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD})
    return Bearer(answer.json()["token"])


def test_every_operation_and_kind_of_caller(live_hub: Any) -> None:
    assert set(EXPECTED) == set(Auth)
    documented = build_spec()["paths"]
    callers, ctx = _setup_callers(live_hub)
    wrong: list[str] = []
    checked = 0
    for op in OPERATIONS:
        statuses = documented[op.path][op.method]["responses"]
        for caller in CALLERS:
            auth = callers[caller]
            if op.endpoint == "admin_auth.admin_logout" and caller == "admin":
                auth = _fresh_admin(live_hub)  # keep the shared admin token alive
            body = _body(op)
            answer = live_hub.http.request(
                op.method.upper(), live_hub.url + _path(op, ctx), auth=auth, timeout=30,
                json=body,
            )
            checked += 1
            expected = EXPECTED[op.auth][caller]
            got = answer.status_code
            if expected == ALLOWED:
                ok = got not in (401, 403) and got < 500 and str(got) in statuses
            else:
                ok = got == expected
            if not ok:
                wrong.append(f"{op.method.upper()} {op.path} as {caller}: expected {expected}, "
                             f"got {got} {answer.text[:120]}")
    assert checked == len(OPERATIONS) * len(CALLERS)
    assert not wrong, "\n".join(wrong)


def test_the_matrix_is_not_vacuous(live_hub: Any) -> None:
    """Allowed callers really get through: a signed approved member reads its own record,
    a reader token lists feeds, the admin lists members."""
    callers, _ = _setup_callers(live_hub)
    base = live_hub.url
    me = live_hub.http.get(base + "/v1/members/me", auth=callers["approved"], timeout=30)
    assert me.status_code == 200 and me.json()["state"] == "approved"
    feeds = live_hub.http.get(base + "/v1/feeds", auth=callers["reader_token"], timeout=30)
    assert feeds.status_code == 200 and feeds.json()["feeds"]
    members = live_hub.http.get(base + "/v1/admin/members", auth=callers["admin"], timeout=30)
    assert members.status_code == 200 and members.json()["total"] >= 5
