"""Load clients for the concurrency tests: one OS process per member, real HTTP.

Why separate processes: threads in the test process would share its GIL with
the hub under test, so "8 concurrent members" would be one client in turn.
The worker is a top-level function so `multiprocessing`'s spawn start method
can import it in a fresh interpreter.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.helpers.signed import signed_request


def value_of(run: str, group: int, index: int) -> str:
    """The keyed-hash stand-in for entry `index` of value group `group` (64 hex, distinct)."""
    return hashlib.sha256(f"{run}:{group}:{index}".encode()).hexdigest()


def group_values(run: str, group: int, size: int) -> list[str]:
    return [value_of(run, group, i) for i in range(size)]


@dataclass(frozen=True)
class ClientJob:
    """What one client process does: report groups `mine` and `neighbour`, in batches.

    Each value group is reported by two members (its owner and the next member),
    so every value reaches `phone-block` (≥ 2 distinct members, confidence 95).
    """

    hub_url: str
    member_id: str
    private_key: bytes
    run: str
    mine: int
    neighbour: int
    per_group: int
    batch_size: int


def run_client(job: ClientJob) -> dict[str, int]:
    """Submit every report of `job`; returns counts. Retries 503/429 and connection drops."""
    key = Ed25519PrivateKey.from_private_bytes(job.private_key)
    values = group_values(job.run, job.mine, job.per_group)
    values += group_values(job.run, job.neighbour, job.per_group)
    http = requests.Session()
    accepted = retries = batches = 0
    for start in range(0, len(values), job.batch_size):
        chunk = values[start : start + job.batch_size]
        body = json.dumps(
            {
                "reports": [
                    {
                        "kind": "phone",
                        "value": v,
                        "category": "fraud",
                        "confidence": 95,
                        "key_epoch": 1,
                    }
                    for v in chunk
                ]
            }
        ).encode()
        idem = f"{job.run}-{job.member_id}-{start}"
        for attempt in range(60):
            prepared = signed_request(
                job.member_id,
                key,
                "POST",
                job.hub_url + "/v1/reports",
                body,
                headers={"Content-Type": "application/json", "Idempotency-Key": idem},
            )
            try:
                response = http.send(prepared, timeout=300)
            except requests.ConnectionError:
                retries += 1
                time.sleep(min(0.2 * (attempt + 1), 2))
                continue
            if response.status_code in (429, 503):
                retries += 1
                time.sleep(min(0.2 * (attempt + 1), 2))
                continue
            if response.status_code != 200:
                problem = f"{response.status_code} {response.text[:300]}"
                raise RuntimeError(f"batch at {start}: {problem}")
            answer = response.json()
            if answer["errors"]:
                raise RuntimeError(f"batch at {start}: errors {answer['errors'][:3]}")
            accepted += answer["accepted"]
            batches += 1
            break
        else:
            raise RuntimeError(f"batch at {start}: gave up after retries")
    http.close()
    return {"accepted": accepted, "retries": retries, "batches": batches}
