"""Contract fuzzing: schemathesis drives the live hub from `/v1/openapi.json`.

Every operation gets positive cases (data the spec allows) and negative cases
(data it forbids), sent with real credentials for its auth kind — a freshly
signed member request, a reader token or an admin token — so the fuzzer gets
past authentication. Each answer must not be a 5xx, must use a documented
status code and content type, and must match the documented answer schema.

The quick run (deterministic, a few hundred cases) is part of the normal
suite; `make fuzz` runs the same code with `LIANFANG_FUZZ_EXAMPLES=200`
(over 5,000 cases) and prints the figures recorded in docs/API.md, "Contract fuzzing".
Both databases: PostgreSQL refuses things SQLite stores (NUL characters), so
a 5xx can be specific to one of them.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from hub.api.openapi import OPERATIONS, Auth, build_spec
from tests.helpers.hub import serve_hub
from tests.hub.hardening_support import Bearer, MemberSignature

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
QUICK_EXAMPLES = 5
# Logging out would revoke the fuzzer's own admin token; logout has its own tests.
SKIPPED = {("POST", "/v1/admin/logout")}


@dataclass
class FuzzReport:
    cases: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    # Authenticated operations answering 401/403 mean the fuzzer did not get in.
    refused: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(self.by_status.items()))
        return f"cases run: {self.cases}; failures: {len(self.failures)}; statuses: {statuses}"


def run_fuzz(db_url: str, data_dir: Path, examples: int) -> FuzzReport:
    """Fuzz every operation with `examples` positive and negative cases each."""
    report = FuzzReport()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    schema = schemathesis.openapi.from_dict(build_spec())
    with serve_hub(db_url, data_dir, ratelimit_enabled="off") as hub:
        member_id, key = hub.new_member()
        # READER operations are fuzzed with a member signature: it reads every feed,
        # while a reader token is refused complaint-groups by scope (test_reader_scope.py)
        auths = {
            Auth.PUBLIC: None,
            Auth.MEMBER: MemberSignature(member_id, key),
            Auth.READER: MemberSignature(member_id, key),
            Auth.ADMIN: Bearer(hub.admin_token),
        }
        http = requests.Session()
        for result in schema.get_all_operations():
            operation = result.ok()
            method = operation.method.upper()
            if (method, operation.path) in SKIPPED:
                continue
            described = next(
                op for op in OPERATIONS
                if op.path == operation.path and op.method.upper() == method
            )
            auth = auths[described.auth]
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                _fuzz_one(operation, mode, examples, hub.url, http, auth, report)
        http.close()
    return report


def _fuzz_one(operation, mode, examples, base_url, http, auth, report) -> None:  # noqa: ANN001
    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=[p for p in settings.default.phases if p.name in ("explicit", "generate")],
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def one(case: schemathesis.Case) -> None:
        response = case.call(base_url=base_url, session=http, auth=auth, timeout=30)
        report.cases += 1
        report.by_status[response.status_code] = report.by_status.get(response.status_code, 0) + 1
        if response.status_code in (401, 403) and auth is not None:
            where = f"{case.method} {operation.path} {response.status_code}"
            report.refused[where] = report.refused.get(where, 0) + 1
        try:
            case.validate_response(response, checks=CHECKS)
        except (AssertionError, BaseExceptionGroup) as exc:  # schemathesis FailureGroup
            problems = "; ".join(
                f"{type(e).__name__}: {' '.join(str(e).split())[:200]}"
                for e in getattr(exc, "exceptions", [exc])
            )
            report.failures.append(
                f"{case.method} {case.formatted_path} [{mode.value}] -> "
                f"{response.status_code}: {problems}\n  body: {response.text[:300]}"
            )

    try:
        one()
    except Unsatisfiable:
        # Negative mode on an operation without inputs: nothing invalid to send.
        assert mode is GenerationMode.NEGATIVE, operation.path


def test_contract_fuzz_quick(db_url: str, tmp_path: Path) -> None:
    """A few hundred deterministic cases: no 5xx, nothing outside the documented contract."""
    report = run_fuzz(db_url, tmp_path / "data", QUICK_EXAMPLES)
    print(report.summary())
    assert report.cases >= 150, report.summary()
    assert not report.failures, "\n".join(report.failures[:20])
    assert not report.refused, report.refused


@pytest.mark.slow
@pytest.mark.skipif(
    "LIANFANG_FUZZ_EXAMPLES" not in os.environ, reason="make fuzz sets LIANFANG_FUZZ_EXAMPLES"
)
def test_contract_fuzz_long(db_url: str, tmp_path: Path) -> None:
    """`make fuzz`: thousands of cases per database; prints the figures for docs/API.md."""
    examples = int(os.environ["LIANFANG_FUZZ_EXAMPLES"])
    report = run_fuzz(db_url, tmp_path / "data", examples)
    print(f"\nFUZZ [{db_url.split(':', 1)[0]}] " + report.summary())
    for failure in report.failures[:50]:
        print("FAIL " + failure)
    print(f"FUZZ refused by auth: {report.refused or 'none'}")
    assert report.cases >= 5000, report.summary()
    assert not report.failures, f"{len(report.failures)} failures"
    assert not report.refused, report.refused
