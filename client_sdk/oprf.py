"""Oblivious hashing against the hub (issue 20): blind, `POST /v1/oprf/evaluate`, verify, unblind.

Why: with keyed hashing every screener holds the phone key, and one extracted
key reverses a phone feed offline in minutes. Here the device holds no key at
all. It blinds each canonical indicator (RFC 9497 VOPRF, ristretto255-SHA512,
`schemas.oprf`), the hub evaluates under the epoch's key, and the device checks
the batched DLEQ proof against the epoch's public key *before* unblinding, so a
hub answering under a per-client key yields an error, never a value. The value
is the same 64-hex string an HMAC epoch produces (`schemas.oprf.indicator_value`),
so feeds and lookups keep their format.

The epoch public key is fetched once per epoch (`GET /v1/oprf/keys`) and pinned
for this object's life: an evaluation that names another key for a pinned epoch
is refused (`OprfProofError`). Values are cached per (epoch, kind, canonical form),
so a repeated caller costs no quota and works while the hub is unreachable.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from client_sdk.fetcher import Fetcher
from client_sdk.request_auth import signed_headers_for_url
from schemas.indicators import normalize
from schemas.keys import b64decode, b64encode
from schemas.oprf import (
    ELEMENT_BYTES,
    PROOF_BYTES,
    OprfError,
    VoprfClient,
    indicator_input,
    indicator_value,
)
from schemas.oprf_wire import MAX_MEMBER_ELEMENTS, MAX_READER_ELEMENTS

__all__ = ["ObliviousHasher", "OprfProofError", "OprfQuotaError", "OprfUnavailableError"]

MAX_RESPONSE_BYTES = 1 << 20


class OprfUnavailableError(Exception):
    """No evaluation: the hub could not be reached or answered an error (not a quota)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class OprfQuotaError(OprfUnavailableError):
    """The hub refused with 429: this token's or member's evaluation quota is spent."""

    def __init__(self, message: str, retry_after_s: float | None) -> None:
        super().__init__(message, 429)
        self.retry_after_s = retry_after_s


class OprfProofError(OprfUnavailableError):
    """The hub's answer failed verification (proof, key pin or format): never trusted."""


@dataclass(frozen=True)
class OprfValues:
    """Values of one evaluation: `epoch` and canonical form → 64-hex value."""

    epoch: int
    values: dict[str, str]


class ObliviousHasher:
    """Indicator values through the hub's OPRF, with a reader token or a member key.

    Holds no secret of the hub: only the epoch public keys and the values it
    already obtained. Thread-safe (the screener's callers share one).
    """

    def __init__(
        self,
        hub_url: str,
        *,
        token: str | None = None,
        member_id: str | None = None,
        private_key: Ed25519PrivateKey | None = None,
        timeout_s: float = 5,
        session: requests.Session | None = None,
    ) -> None:
        if (token is None) == (member_id is None):
            raise ValueError("pass a reader token, or a member_id and private_key")
        self._fetcher = Fetcher(hub_url, token=token, member_id=member_id,
                                private_key=private_key, timeout_s=timeout_s, session=session)
        self._batch = MAX_READER_ELEMENTS if token is not None else MAX_MEMBER_ELEMENTS
        self._pinned: dict[int, bytes] = {}
        self._cache: dict[tuple[int, str, str], str] = {}
        self._lock = threading.Lock()
        self.current_epoch: int | None = None
        self.last_failure: str | None = None
        """Why the last evaluation gave nothing (`oprf_quota`, `oprf_offline`,
        `oprf_unverified`), None after a success: what a screener verdict reports."""

    # ------------------------------------------------------------ public keys
    def refresh_keys(self) -> int:
        """Fetch the epochs' public keys, pinning each epoch's first one; the current epoch."""
        try:
            body = self._fetcher.get("/v1/oprf/keys").body or b""
            doc: Any = json.loads(body)
            current = int(doc["current_epoch"])
            for entry in doc["keys"]:
                self._pin(int(entry["epoch"]), b64decode(entry["public_key"],
                                                         length=ELEMENT_BYTES))
        except OprfProofError:
            raise
        except (ValueError, KeyError, TypeError) as exc:
            raise OprfProofError(f"malformed OPRF key document ({type(exc).__name__})") from None
        except Exception as exc:  # FetchError and friends: the hub is not answering
            raise OprfUnavailableError(f"OPRF keys: {exc}", getattr(exc, "status", None)
                                       ) from None
        if current not in self._pinned:
            raise OprfProofError(f"the key document lists no key for epoch {current}")
        self.current_epoch = current
        return current

    def _pin(self, epoch: int, public_key: bytes) -> None:
        with self._lock:
            known = self._pinned.setdefault(epoch, public_key)
        if known != public_key:
            raise OprfProofError(f"the hub changed epoch {epoch}'s OPRF public key")

    # ---------------------------------------------------------------- values
    def cached(self, kind: str, canonical: str) -> str | None:
        """The value already obtained for this canonical form in the current epoch."""
        if self.current_epoch is None:
            return None
        with self._lock:
            return self._cache.get((self.current_epoch, kind, canonical))

    def phone_keys(self, e164: str) -> list[int]:
        """The 64-bit phone feed key of `e164` (the value's first 8 bytes), or [] when
        the hub cannot evaluate it now; never raises (it runs on the call path)."""
        value = self.cached("phone", e164)
        if value is None:
            try:
                value = self.values("phone", [e164]).values[e164]
            except OprfQuotaError:
                self.last_failure = "oprf_quota"
                return []
            except OprfProofError:
                self.last_failure = "oprf_unverified"
                return []
            except Exception:  # noqa: BLE001 - offline, or anything else: no verdict crash
                self.last_failure = "oprf_offline"
                return []
            self.last_failure = None
        return [int(value[:16], 16)]

    def values(self, kind: str, raw_values: Sequence[str], region: str = "CN",
               *, _retried: bool = False) -> OprfValues:
        """Normalise, then evaluate what is not cached (in batches the caller's bound
        allows); InvalidIndicator for a value that does not normalise."""
        canonical = [normalize(kind, raw, region) for raw in raw_values]
        epoch = self.current_epoch if self.current_epoch is not None else self.refresh_keys()
        out: dict[str, str] = {}
        missing: list[str] = []
        with self._lock:
            for form in dict.fromkeys(canonical):
                hit = self._cache.get((epoch, kind, form))
                if hit is None:
                    missing.append(form)
                else:
                    out[form] = hit
        for start in range(0, len(missing), self._batch):
            chunk = missing[start:start + self._batch]
            got_epoch, got = self._evaluate(kind, chunk)
            if got_epoch != epoch:  # the hub rotated: start over once under the new epoch
                if _retried:
                    raise OprfProofError(f"the hub answered epoch {got_epoch}, its key "
                                         f"document says {self.current_epoch}")
                self.current_epoch = None
                return self.values(kind, raw_values, region, _retried=True)
            out.update(got)
        return OprfValues(epoch, out)

    def _evaluate(self, kind: str, forms: Sequence[str]) -> tuple[int, dict[str, str]]:
        inputs = [indicator_input(kind, form) for form in forms]
        probe = VoprfClient(next(iter(self._pinned.values())))
        blinded = [probe.blind(data) for data in inputs]
        body = json.dumps({"elements": [b64encode(b.element) for b in blinded]},
                          separators=(",", ":")).encode()
        doc = self._post("/v1/oprf/evaluate", body)
        try:
            epoch = int(doc["epoch"])
            public_key = b64decode(doc["public_key"], length=ELEMENT_BYTES)
            evaluated = [b64decode(e, length=ELEMENT_BYTES) for e in doc["evaluated"]]
            proof = b64decode(doc["proof"], length=PROOF_BYTES)
        except (ValueError, KeyError, TypeError) as exc:
            raise OprfProofError(f"malformed OPRF answer ({type(exc).__name__})") from None
        if epoch not in self._pinned:
            self.refresh_keys()
            if epoch not in self._pinned:  # never trust a key only the answer names
                raise OprfProofError(f"epoch {epoch} is not in the hub's key document")
        self._pin(epoch, public_key)
        if len(evaluated) != len(blinded):
            raise OprfProofError("the hub answered a different number of elements")
        try:
            outputs = VoprfClient(self._pinned[epoch]).finalize_batch(
                inputs, [b.blind for b in blinded], evaluated, [b.element for b in blinded],
                proof)
        except OprfError as exc:
            raise OprfProofError(f"the hub's VOPRF proof does not verify ({type(exc).__name__})"
                                 ) from None
        values = {form: indicator_value(out) for form, out in zip(forms, outputs, strict=True)}
        with self._lock:
            for form, value in values.items():
                self._cache[(epoch, kind, form)] = value
        return epoch, values

    def _post(self, path: str, body: bytes) -> dict[str, Any]:
        fetcher = self._fetcher
        url = fetcher.base + path
        headers = {"Content-Type": "application/json"}
        if fetcher.token is not None:
            headers["Authorization"] = f"Bearer {fetcher.token}"
        else:
            assert fetcher.member_id is not None and fetcher.private_key is not None
            headers.update(signed_headers_for_url(fetcher.private_key, fetcher.member_id,
                                                  "POST", url, body))
        try:
            response = fetcher.session.post(url, data=body, headers=headers,
                                            timeout=fetcher.timeout_s, allow_redirects=False)
        except requests.RequestException as exc:
            raise OprfUnavailableError(f"POST {path}: {type(exc).__name__}") from None
        with response:
            if response.status_code == 429:
                try:
                    retry = float(response.headers.get("Retry-After", ""))
                except ValueError:
                    retry = None
                raise OprfQuotaError("OPRF evaluation quota spent", retry)
            if response.status_code != 200:
                raise OprfUnavailableError(f"POST {path}: HTTP {response.status_code}",
                                           response.status_code)
            if len(response.content) > MAX_RESPONSE_BYTES:
                raise OprfProofError("OPRF answer too large")
            try:
                doc = response.json()
            except ValueError:
                raise OprfProofError("OPRF answer is not JSON") from None
        if not isinstance(doc, dict):
            raise OprfProofError("OPRF answer is not a JSON object")
        return doc

    def close(self) -> None:
        self._fetcher.close()
