"""A member institution's client for the hub (docs/ARCHITECTURE.md §3, §4, §6).

Raw identifiers never leave this process: `report`, `report_case`, `retract`
and `dispute` normalise and keyed-hash locally with the consortium key and
send only the hashed values. Every request after `apply` is signed with the
member's Ed25519 key (`client_sdk.request_auth`).

Network failures are retried with exponential backoff and jitter, but only
where a retry cannot double an effect: report batches carry an
``Idempotency-Key`` that names *one call* (member + a random per-call nonce +
the batch bytes), so the retries of a call are stored once while a later call
with identical content is a new batch; reads and retractions are naturally
idempotent, and other writes are retried only when
the hub certainly did not act (connection refused, 429, 503).
"""

from __future__ import annotations

import hashlib
import json
import random
import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from client_sdk.oprf import ObliviousHasher
from client_sdk.request_auth import idempotency_key_of, signed_headers_for_url
from schemas.enums import IndicatorKind
from schemas.fingerprint import keyed_simhash64
from schemas.indicators import InvalidIndicator, hash_indicator, key_audience, normalize
from schemas.keys import MEMBER_KEY_ROTATION_CONTEXT, b64decode, b64encode
from schemas.reports import MAX_BATCH_REPORTS, MAX_LOOKUP_VALUES
from schemas.timefmt import format_time, utcnow
from schemas.webhook_signature import DEFAULT_TOLERANCE_S, verify

USER_AGENT = "lianfang-sdk/0.1"
_BACKOFF_BASE_S = 0.5
_BACKOFF_CAP_S = 30.0
_RETRY_AFTER_CAP_S = 120.0
KEY_CACHE_S = 3600.0

"""How long consortium keys are reused before asking the hub again."""


class HubError(Exception):
    """The hub refused a request (4xx) or could not be reached after retries.

    ``status`` is the HTTP status, or ``None`` when no response arrived;
    ``code``/``message``/``fields`` come from the hub's JSON error body.
    """

    def __init__(
        self,
        status: int | None,
        code: str,
        message: str,
        fields: Mapping[str, Any] | None = None,
        payload: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status or 'no response'} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.fields: dict[str, Any] = dict(fields or {})
        self.payload: dict[str, Any] = dict(payload or {})


@dataclass(frozen=True)
class ReportResult:
    """Outcome of `MemberClient.report`, indexed like the caller's input.

    ``errors`` maps a caller index to a local normalisation message (``str``)
    or the hub's per-field problems (``dict``).
    """

    accepted: int
    errors: dict[int, str | dict[str, Any]] = field(default_factory=dict)
    batch_ids: list[str] = field(default_factory=list)
    merged: bool = False  # True when `report(..., wait=True)` saw every batch merged


def _hashed_value(kind: str, raw: str, key: bytes, region: str = "CN") -> str:
    """The wire value of one raw indicator (keyed SimHash for complaint text, else HMAC).

    `key` must be the epoch's key for `kind` (`MemberClient.consortium_key(kind)`): the
    identity key for complaint text, so a guessed text cannot be tested without it.
    """
    if kind == IndicatorKind.COMPLAINT_TEXT.value:
        return keyed_simhash64(raw, key)
    return hash_indicator(kind, raw, key, region)


def _timestamp(moment: datetime | str | None) -> str | None:
    if moment is None or isinstance(moment, str):
        return moment
    return format_time(moment)


def batch_idempotency_key(member_id: str, call_nonce: str, body: bytes) -> str:
    """The ``Idempotency-Key`` of one report batch of one `MemberClient.report` call.

    The body alone is not enough: without caller-supplied times, reporting the
    same values again (after a retraction, or to refresh ``last_seen``) has the
    same bytes, and the hub would replay the old batch instead of storing the
    new one. The per-call nonce makes each call distinct; the body separates
    the batches of one call. Retries of one attempt send the same key.
    """
    material = b"\n".join([member_id.encode(), call_nonce.encode("ascii"), body])
    return hashlib.sha256(material).hexdigest()


def _query(**params: Any) -> str:
    """A query string of the parameters that are set."""
    return urlencode({k: v for k, v in params.items() if v is not None})


def _is_connect_failure(exc: requests.RequestException) -> bool:
    """True when the request never reached the hub (safe to retry any write)."""
    return isinstance(exc, requests.ConnectTimeout) or (
        isinstance(exc, requests.ConnectionError) and "NewConnectionError" in repr(exc)
    )


class MemberClient:
    """Signed, retrying access to the hub for one member institution."""

    def __init__(
        self,
        hub_url: str,
        private_key: Ed25519PrivateKey,
        member_id: str | None = None,
        *,
        timeout_s: float = 30,
        max_retries: int = 4,
        batch_size: int = MAX_BATCH_REPORTS,
        hashing: str = "hmac",
    ) -> None:
        if hashing not in ("hmac", "oprf"):
            raise ValueError("hashing is 'hmac' (local consortium key) or 'oprf' (hub-evaluated)")
        self.hashing = hashing
        """`oprf` (issue 20): phone values come from the hub's batch OPRF evaluation
        (member signature, up to 10,000 elements a request), for screeners that hold
        no key. Identity kinds keep the identity HMAC key: a reader token could
        otherwise enumerate ID numbers through the same endpoint."""
        if not 1 <= batch_size <= MAX_BATCH_REPORTS:
            raise ValueError(f"batch_size must be 1..{MAX_BATCH_REPORTS}")
        self.hub_url = hub_url.rstrip("/")
        self.member_id = member_id
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.batch_size = batch_size
        self._key = private_key
        self._session = requests.Session()
        self._session.headers["User-Agent"] = USER_AGENT
        self._epochs: dict[int, bytes] = {}
        self._identity_epochs: dict[int, bytes] = {}
        self._current_epoch: int | None = None
        self._keys_loaded_at = 0.0
        self._hasher: ObliviousHasher | None = None

    # -- membership ---------------------------------------------------------

    def public_key_b64(self) -> str:
        raw = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return b64encode(raw)

    def apply(self, name: str, kind: str, registration_no: str, contact_email: str) -> str:
        """Apply for membership; the returned id is the member id for life."""
        body = {
            "name": name,
            "kind": kind,
            "registration_no": registration_no,
            "contact_email": contact_email,
            "public_key": self.public_key_b64(),
        }
        answer = self._request("POST", "/v1/applications", body, signed=False, idempotent=False)
        self.member_id = str(answer["id"])
        return self.member_id

    def me(self) -> dict[str, Any]:
        """The member's own record: state, merge `weight`, `key_fingerprint` and the rest."""
        return self._request("GET", "/v1/members/me")

    def rotate_key(self, new_key: Ed25519PrivateKey) -> dict[str, Any]:
        """Replace this member's key with `new_key` on the hub, then sign with it.

        The request is signed with the current key and carries the new key's
        signature over `MEMBER_KEY_ROTATION_CONTEXT + member id` (proof of possession). The
        member id, and with it the member's standing, stays the same.
        """
        if not self.member_id:
            raise HubError(None, "no_member_id", "apply first or pass member_id")
        raw = new_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        proof = new_key.sign(MEMBER_KEY_ROTATION_CONTEXT + self.member_id.encode())
        body = {"public_key": b64encode(raw), "proof": b64encode(proof)}
        answer = self._request("POST", "/v1/members/me/key", body, idempotent=False)
        self._key = new_key
        return answer

    def _keys_expired(self) -> bool:
        return (
            self._current_epoch is None
            or time.monotonic() - self._keys_loaded_at > KEY_CACHE_S
        )

    def consortium_key(self, kind: str = "phone", *, refresh: bool = False
                       ) -> tuple[int, bytes]:
        """The current (epoch, key) to hash new reports of `kind` with.

        Phone numbers use the epoch's phone key, every other kind its identity
        key (`schemas.indicators.key_audience`). Cached for `KEY_CACHE_S` so a
        long-running reporter follows a key rotation before its old epoch is
        retired and refused.
        """
        keys = self.consortium_keys(kind, refresh=refresh)
        assert self._current_epoch is not None
        return self._current_epoch, keys[self._current_epoch]

    def consortium_keys(self, kind: str = "phone", *, refresh: bool = False
                        ) -> dict[int, bytes]:
        """Every epoch's key for `kind` that the hub hands out (current and retiring)."""
        if refresh or self._keys_expired():
            self._load_consortium_keys()
        if key_audience(kind) == "identity":
            return dict(self._identity_epochs)
        return dict(self._epochs)

    def consortium_key_bundle(self) -> bytes:
        """The phone consortium keys as a bundle a member hands its screeners (CDN mode).

        A screener syncing from a static mirror cannot call `/v1/consortium-key`;
        `FeedClient.import_consortium_keys(bundle)` stores this instead. Only
        the phone keys are in it (identity keys stay with the member). It is a
        secret: distribute it like a reader token, and again after every
        consortium key rotation (docs/OPERATIONS.md, "CDN mode").
        """
        answer = self._request("GET", "/v1/consortium-key")
        try:
            keys = [{"epoch": int(k["epoch"]), "key": str(k["key"])} for k in answer["keys"]]
            current = int(answer["current_epoch"])
        except (KeyError, TypeError, ValueError) as exc:
            raise HubError(None, "bad_consortium_key", f"malformed key document: {exc}") from exc
        return json.dumps({"current_epoch": current, "keys": keys}, sort_keys=True).encode()

    def _load_consortium_keys(self) -> None:
        answer = self._request("GET", "/v1/consortium-key")
        try:
            epochs = {int(k["epoch"]): b64decode(k["key"]) for k in answer["keys"]}
            identity = {int(k["epoch"]): b64decode(k["identity_key"]) for k in answer["keys"]}
        except (KeyError, TypeError, ValueError) as exc:
            raise HubError(None, "bad_consortium_key",
                           f"the key document lacks phone or identity keys: {exc}") from exc
        current = int(answer["current_epoch"])
        if current not in epochs:
            raise HubError(None, "bad_consortium_key", "current epoch missing from the key list")
        self._epochs, self._identity_epochs = epochs, identity
        self._current_epoch = current
        self._keys_loaded_at = time.monotonic()

    def mint_reader_token(self, label: str | None = None) -> str:
        """A bearer token for this member's call screeners (feeds only)."""
        return str(self.create_reader_token(label)["token"])

    def create_reader_token(self, label: str | None = None, scope: str = "reader"
                            ) -> dict[str, Any]:
        """`mint_reader_token` with the token's record (id, label, scope, created_at).

        `scope="taxii"` mints an `lft_` token for the member's threat-intel platform
        (TAXII 2.1 at `/taxii2/` only; docs/MEMBERS.md); a screener's token cannot read TAXII.
        """
        body: dict[str, Any] = {} if label is None else {"label": label}
        if scope != "reader":
            body["scope"] = scope
        return self._request("POST", "/v1/reader-tokens", body, idempotent=False)

    def reader_tokens(self) -> list[dict[str, Any]]:
        """This member's reader tokens, revoked ones included (never the secrets)."""
        return list(self._request("GET", "/v1/reader-tokens")["items"])

    def revoke_reader_token(self, token_id: str) -> dict[str, Any]:
        """Revoke one reader token; screeners using it are refused from then on."""
        return self._request("DELETE", f"/v1/reader-tokens/{quote(token_id, safe='')}")

    # -- webhooks -------------------------------------------------------------

    def register_webhook(self, url: str) -> dict[str, Any]:
        """Register an https:// endpoint; the answer's `secret` is shown only now —
        keep it to verify events with `verify_webhook`."""
        return self._request("POST", "/v1/webhooks", {"url": url}, idempotent=False)

    def webhooks(self) -> list[dict[str, Any]]:
        return list(self._request("GET", "/v1/webhooks")["items"])

    def delete_webhook(self, webhook_id: str) -> dict[str, Any]:
        return self._request("DELETE", f"/v1/webhooks/{quote(webhook_id, safe='')}")

    def webhook_deliveries(self, webhook_id: str) -> list[dict[str, Any]]:
        """The delivery log of one webhook, newest first (state, attempts, last status)."""
        path = f"/v1/webhooks/{quote(webhook_id, safe='')}/deliveries"
        return list(self._request("GET", path)["items"])

    @staticmethod
    def verify_webhook(
        secret: str, headers: Mapping[str, str], body: bytes,
        *, tolerance_s: int = DEFAULT_TOLERANCE_S,
    ) -> dict[str, Any]:
        """The event of one delivery when its signature is the hub's (HMAC-SHA256 with
        this webhook's secret, constant-time compare, timestamp within `tolerance_s`);
        raises `schemas.webhook_signature.WebhookSignatureError` otherwise. Pass the raw
        body bytes, not re-serialised JSON."""
        return verify(secret, headers, body, tolerance_s=tolerance_s)

    # -- own records ----------------------------------------------------------

    def reports(
        self, state: str | None = None, *, limit: int = 100, offset: int = 0
    ) -> list[dict[str, Any]]:
        """This member's own reports as the hub holds them (hashed values), oldest first."""
        return list(self._request("GET", "/v1/reports?" + _query(
            state=state, limit=limit, offset=offset))["items"])

    def disputes(
        self, state: str | None = None, *, limit: int = 100, offset: int = 0
    ) -> list[dict[str, Any]]:
        """The disputes this member opened, with their state and resolution."""
        return list(self._request("GET", "/v1/disputes?" + _query(
            state=state, limit=limit, offset=offset))["items"])

    # -- own numbers (号码认证) -------------------------------------------------

    def register_number(
        self, raw_number: str, display_name: str, purpose: str, region: str = "CN"
    ) -> dict[str, Any]:
        """Register a number this institution calls from or answers on (pending until an
        admin verifies it). The number is the institution's own public number, so it is
        sent raw; the hub seals it and publishes only hashes. Purposes:
        `schemas.numbers.Purpose`."""
        body = {"raw_number": raw_number, "region": region, "display_name": display_name,
                "purpose": purpose}
        return self._request("POST", "/v1/numbers", body, idempotent=True)

    def numbers(
        self, state: str | None = None, *, limit: int = 100, offset: int = 0
    ) -> list[dict[str, Any]]:
        """This member's registered numbers with their state and the admin's note."""
        return list(self._request("GET", "/v1/numbers?" + _query(
            state=state, limit=limit, offset=offset))["items"])

    def number_reputation(self) -> list[dict[str, Any]]:
        """How other institutions report this member's verified numbers: categories, a
        bucketed count of reporters and the first/last month (no identities)."""
        return list(self._request("GET", "/v1/numbers/reputation")["items"])

    def withdraw_number(self, registration_id: int) -> None:
        """Withdraw one of this member's registrations (a verified one leaves the allowlist)."""
        self._request("DELETE", f"/v1/numbers/{int(registration_id)}")

    # -- lookups --------------------------------------------------------------

    def lookup(self, kind: str, raw_values: Sequence[str], region: str = "CN"
               ) -> list[dict[str, Any]]:
        """How the consortium sees each value, indexed like the input.

        Values are hashed here with the current epoch key and sent in signed
        batches of up to `MAX_LOOKUP_VALUES` (`POST /v1/indicators/lookup`).
        Each answer has the single lookup's ``status``: 200 with ``listing``,
        404 (nobody reported it) or 422 with ``error`` -- a value that does not
        normalise gets a local 422 and is never sent. The hub counts every value
        against the member's lookup budget, so a 429 names that budget.
        """
        _, key = self.consortium_key(kind)
        answers: list[dict[str, Any] | None] = [None] * len(raw_values)
        items: list[dict[str, str]] = []
        origin: list[int] = []
        for index, raw in enumerate(raw_values):
            try:
                items.append({"kind": kind, "value": _hashed_value(kind, raw, key, region)})
            except (InvalidIndicator, ValueError, TypeError) as exc:
                answers[index] = {"status": 422, "error": {
                    "code": "invalid_value", "message": str(exc) or "invalid value",
                    "fields": None}}
                continue
            origin.append(index)
        for start in range(0, len(items), MAX_LOOKUP_VALUES):
            batch = items[start : start + MAX_LOOKUP_VALUES]
            answer = self._request("POST", "/v1/indicators/lookup", {"items": batch})
            for result in answer["results"]:
                result = dict(result)
                position = start + int(result.pop("index"))
                answers[origin[position]] = result
        return [a if a is not None else {"status": 422} for a in answers]

    # -- reports ------------------------------------------------------------

    def report(
        self,
        kind: str,
        raw_values: Sequence[str],
        category: str,
        confidence: int,
        *,
        first_seen: datetime | str | None = None,
        last_seen: datetime | str | None = None,
        expires_at: datetime | str | None = None,
        case_ref: str | None = None,
        region: str = "CN",
        wait: bool = False,
        wait_timeout_s: float = 300.0,
    ) -> ReportResult:
        """Hash and report indicators; errors come back under the caller's indexes.

        The hub answers once the batches are stored durably (`accepted`); the
        listings change when its merge consumer has merged them. With
        ``wait=True`` this call returns only after every batch is `merged`
        (``GET /v1/batches/<id>``), so a lookup right after sees the reports;
        ``HubError`` ``merge_timeout`` after ``wait_timeout_s``.
        A value that does not normalise is reported locally and never sent.
        Times left out are filled in by the hub. Retries inside this call reuse
        its idempotency keys (a lost answer is not stored twice); a new call --
        a re-report after a retraction, a daily refresh of ``last_seen`` -- is
        always a new batch, even with identical content.
        """
        call_nonce = secrets.token_hex(16)
        if self.hashing == "oprf" and kind == "phone":
            epoch, hashed = self._oblivious_values(kind, raw_values, region)
        else:
            epoch, key = self.consortium_key(kind)
            hashed = {}
            for index, raw in enumerate(raw_values):
                try:
                    hashed[index] = _hashed_value(kind, raw, key, region)
                except (InvalidIndicator, ValueError, TypeError) as exc:
                    hashed[index] = exc
        common: dict[str, Any] = {"kind": kind, "category": category, "confidence": confidence}
        common["key_epoch"] = epoch
        for name, moment in (
            ("first_seen", first_seen),
            ("last_seen", last_seen),
            ("expires_at", expires_at),
        ):
            text = _timestamp(moment)
            if text is not None:
                common[name] = text
        if case_ref is not None:
            common["case_ref"] = case_ref
        errors: dict[int, str | dict[str, Any]] = {}
        items: list[dict[str, Any]] = []
        origin: list[int] = []
        for index in range(len(raw_values)):
            value = hashed[index]
            if isinstance(value, Exception):
                errors[index] = str(value) or "invalid value"
                continue
            items.append({**common, "value": value})
            origin.append(index)
        accepted = 0
        batch_ids: list[str] = []
        for start in range(0, len(items), self.batch_size):
            batch = items[start : start + self.batch_size]
            answer = self._post_batch(batch, call_nonce)
            accepted += int(answer.get("accepted", 0))
            if answer.get("batch_id") is not None:
                batch_ids.append(str(answer["batch_id"]))
            for problem in answer.get("errors", []):
                errors[origin[start + int(problem["index"])]] = problem.get("fields") or {}
        merged = False
        if wait:
            self.wait_merged(batch_ids, timeout_s=wait_timeout_s)
            merged = True
        return ReportResult(accepted, dict(sorted(errors.items())), batch_ids, merged)

    def batch(self, batch_id: str) -> dict[str, Any]:
        """One of this member's batches: ``{"batch_id", "state", "merged_at", ...}``."""
        return self._request("GET", f"/v1/batches/{batch_id}")

    def wait_merged(
        self, batch_ids: Sequence[str], *, timeout_s: float = 300.0, poll_s: float = 0.05
    ) -> None:
        """Return once every batch is `merged`; `HubError` `merge_timeout` otherwise."""
        deadline = time.monotonic() + timeout_s
        waiting = list(batch_ids)
        delay = poll_s
        while waiting:
            if self.batch(waiting[0]).get("state") == "merged":
                waiting.pop(0)
                continue
            if time.monotonic() >= deadline:
                raise HubError(
                    None, "merge_timeout",
                    f"{len(waiting)} batch(es) still accepted, not merged, after {timeout_s} s",
                )
            time.sleep(delay)
            delay = min(delay * 2, 1.0)

    def _oblivious_values(self, kind: str, raw_values: Sequence[str], region: str
                          ) -> tuple[int, dict[int, str | Exception]]:
        """Per index the OPRF value, or the normalisation error (never sent)."""
        if self._hasher is None:
            self._hasher = ObliviousHasher(self.hub_url, member_id=self.member_id,
                                           private_key=self._key, timeout_s=self.timeout_s)
        out: dict[int, str | Exception] = {}
        forms: dict[int, str] = {}
        for index, raw in enumerate(raw_values):
            try:
                forms[index] = normalize(kind, raw, region)
            except (InvalidIndicator, ValueError, TypeError) as exc:
                out[index] = exc
        got = self._hasher.values(kind, list(forms.values()), region)
        for index, form in forms.items():
            out[index] = got.values[form]
        return got.epoch, out

    def _post_batch(self, batch: list[dict[str, Any]], call_nonce: str) -> dict[str, Any]:
        body = json.dumps({"reports": batch}, separators=(",", ":"), sort_keys=True).encode()
        digest = batch_idempotency_key(str(self.member_id), call_nonce, body)
        try:
            return self._request(
                "POST", "/v1/reports", body, headers={"Idempotency-Key": digest}, idempotent=True
            )
        except HubError as exc:
            # A batch in which nothing was accepted is a 422 that still lists per-item errors.
            if exc.status == 422 and isinstance(exc.payload.get("errors"), list):
                return {"accepted": 0, "errors": exc.payload["errors"], "batch_id": None}
            raise

    def report_case(
        self,
        indicators: Iterable[tuple[str, str]],
        *,
        case_ref: str | None = None,
        observed_at: datetime | str | None = None,
    ) -> dict[str, Any]:
        """Report indicators seen together in one complaint episode.

        Raises `InvalidIndicator` before sending when any indicator does not
        normalise: a case is one statement and goes whole or not at all.
        """
        epoch, phone_key = self.consortium_key("phone")
        _, identity_key = self.consortium_key("id_number")
        hashed = [
            {"kind": k, "value": _hashed_value(
                k, raw, identity_key if key_audience(k) == "identity" else phone_key)}
            for k, raw in indicators
        ]
        body: dict[str, Any] = {
            "category": "malicious_complaint",
            "key_epoch": epoch,
            "observed_at": _timestamp(observed_at) or format_time(utcnow()),
            "indicators": hashed,
        }
        if case_ref is not None:
            body["case_ref"] = case_ref
        return self._request("POST", "/v1/cases", body, idempotent=False)

    def retract_case(self, case_id: int) -> dict[str, Any]:
        """Withdraw one of this member's cases (`report_case(...)["case_id"]`): it stops
        linking and corroborating, and the groups it touched are re-derived."""
        return self._request("POST", f"/v1/cases/{int(case_id)}/retract", None, idempotent=True)

    def retract(
        self, kind: str, raw_values: Sequence[str], category: str | None = None
    ) -> dict[str, Any]:
        """Withdraw this member's reports on the given values (all epochs it holds)."""
        keys = self.consortium_keys(kind)
        items: list[dict[str, Any]] = []
        for raw in raw_values:
            for epoch_key in keys.values():
                item: dict[str, Any] = {"kind": kind, "value": _hashed_value(kind, raw, epoch_key)}
                if category is not None:
                    item["category"] = category
                if item not in items:
                    items.append(item)
        return self._request("POST", "/v1/reports/retract", {"items": items}, idempotent=True)

    def dispute(self, kind: str, raw_value: str, reason: str) -> dict[str, Any]:
        """Dispute the listing of a value (hashed with the current epoch key)."""
        _, key = self.consortium_key(kind)
        body = {"kind": kind, "value": _hashed_value(kind, raw_value, key), "reason": reason}
        return self._request("POST", "/v1/disputes", body, idempotent=False)

    # -- transport ----------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | bytes | None = None,
        *,
        signed: bool = True,
        idempotent: bool = True,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        if isinstance(body, bytes):
            data = body
        elif body is None:
            data = b""
        else:
            data = json.dumps(body, separators=(",", ":")).encode()
        if signed and not self.member_id:
            raise HubError(None, "no_member_id", "apply first or pass member_id")
        attempt = 0
        while True:
            request_headers = {"Content-Type": "application/json"} if data else {}
            request_headers.update(headers or {})
            delay: float | None = None
            try:
                response = self._send(method, path, data, request_headers, signed)
            except requests.RequestException as exc:
                if attempt >= self.max_retries or not (idempotent or _is_connect_failure(exc)):
                    raise HubError(None, "unreachable", f"{type(exc).__name__}: {exc}") from exc
            else:
                status = response.status_code
                if status < 400:
                    return response.json() if response.content else {}
                retryable = status == 429 or status == 503 or (idempotent and status >= 500)
                if status == 429 and self._waits_too_long(response):
                    retryable = False  # a daily quota: retrying in minutes cannot succeed
                if not retryable or attempt >= self.max_retries:
                    raise self._error(response)
                delay = self._retry_after(response)
            if delay is None:
                delay = min(_BACKOFF_CAP_S, _BACKOFF_BASE_S * 2**attempt)
                delay *= 0.5 + random.random()
            time.sleep(delay)
            attempt += 1

    def _send(
        self, method: str, path: str, data: bytes, headers: dict[str, str], signed: bool
    ) -> requests.Response:
        """One attempt; a signed request is signed over its final prepared URL and body.

        Preparing first means the signature covers exactly the request target
        that goes on the wire, hub URL prefix included, through the same helper
        the feed fetcher uses. Each attempt gets a fresh nonce and timestamp.
        """
        prepared = self._session.prepare_request(
            requests.Request(method, self.hub_url + path, data=data or None, headers=headers)
        )
        if signed:
            assert self.member_id is not None
            prepared.headers.update(
                signed_headers_for_url(self._key, self.member_id, method, prepared.url or "", data,
                                       idempotency_key=idempotency_key_of(prepared.headers))
            )
        settings = self._session.merge_environment_settings(prepared.url, {}, None, None, None)
        return self._session.send(prepared, timeout=self.timeout_s, **settings)

    @staticmethod
    def _waits_too_long(response: requests.Response) -> bool:
        """Retry-After beyond what a retry would wait (a quota that resets at midnight)."""
        try:
            return float(response.headers.get("Retry-After", "0")) > _RETRY_AFTER_CAP_S
        except ValueError:
            return False

    @staticmethod
    def _retry_after(response: requests.Response) -> float | None:
        value = response.headers.get("Retry-After")
        if value is None:
            return None
        try:
            return min(_RETRY_AFTER_CAP_S, max(0.0, float(value)))
        except ValueError:
            return None

    @staticmethod
    def _error(response: requests.Response) -> HubError:
        try:
            body = response.json()
            error = body["error"]
            return HubError(
                response.status_code,
                str(error.get("code", "error")),
                str(error.get("message", "")),
                error.get("fields"),
                body,
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            return HubError(response.status_code, "http_error", response.reason or "")

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> MemberClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
