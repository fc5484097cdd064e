"""Provenance (issue 14): every stored report is backed by a batch its member signed.

The attack: someone with write access to the database forges reports — a new row
with no batch, a row pointing at a genuine batch that never contained it, and a
genuine row whose confidence was raised. `lianfang-hub verify-provenance` passes
on honest data and names exactly the forged rows.
"""

from __future__ import annotations

import subprocess
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from hub.db import get_db
from hub.models.report import Report
from hub.services.indicators import ensure_indicators
from schemas.timefmt import utcnow
from tests.helpers.hubproc import cli_args, hub_env
from tests.hub.reports_support import hv, rep, report


def _verify(live_hub: Any, db_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cli_args(live_hub.data_dir, db_url, "verify-provenance"),
                          env=hub_env(), capture_output=True, text=True, timeout=120,
                          check=False)


def test_forged_report_rows_are_named(live_hub, db_url: str) -> None:
    member = live_hub.new_member()
    values = [hv() for _ in range(3)]
    answer = report(live_hub, member, [rep(v, confidence=85) for v in values])
    assert answer.status_code == 200, answer.text
    batch_id = answer.json()["batch_id"]
    honest = _verify(live_hub, db_url)
    assert honest.returncode == 0, honest.stderr
    assert "provenance OK: 3 reports" in honest.stdout

    now = utcnow()
    with live_hub.app.app_context(), get_db(live_hub.app).new_session() as session:
        forged_value = hv()
        ident = ensure_indicators(session, [("phone", forged_value, 1)])[("phone", forged_value)]
        row = {"member_id": member[0], "category": "fraud", "confidence": 100, "key_epoch": 1,
               "first_seen": now, "last_seen": now, "expires_at": now + timedelta(days=90),
               "updated_at": now}
        no_batch = Report(indicator_id=ident, **row)
        smuggled = Report(indicator_id=ident, batch_id=batch_id, **{**row,
                          "category": "spoofing"})
        session.add_all([no_batch, smuggled])
        tampered = session.scalars(select(Report).where(Report.batch_id == batch_id)).first()
        tampered.confidence = 100
        session.commit()
        forged = {no_batch.id, smuggled.id, tampered.id}

    result = _verify(live_hub, db_url)
    assert result.returncode == 1
    named = {int(line.split()[1]) for line in result.stderr.splitlines()
             if line.startswith("report ")}
    assert named == forged, result.stderr
    assert "3 of 5 reports have no valid provenance" in result.stderr
