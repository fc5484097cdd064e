"""The JSON error contract, request limits and the health check."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask

from hub import create_app
from hub.db import get_db


def _error(response: requests.Response) -> dict[str, Any]:
    assert response.headers["Content-Type"].startswith("application/json")
    return response.json()["error"]


def test_unknown_path_and_wrong_method_are_json(live_hub: Any) -> None:
    missing = requests.get(live_hub.url + "/v1/nothing-here", timeout=30)
    assert missing.status_code == 404 and _error(missing)["code"] == "not_found"
    wrong = requests.get(live_hub.url + "/v1/applications", timeout=30)
    assert wrong.status_code == 405 and _error(wrong)["code"] == "method_not_allowed"
    assert "POST" in wrong.headers["Allow"]


def test_body_limit_is_413(live_hub: Any) -> None:
    big = b'{"name": "' + b"x" * (8 * 1024 * 1024 + 10) + b'"}'
    response = requests.post(
        live_hub.url + "/v1/applications",
        data=big,
        headers={"Content-Type": "application/json"},
        timeout=60,
    )
    assert response.status_code == 413 and _error(response)["code"] == "body_too_large"


def test_non_json_bodies(live_hub: Any) -> None:
    as_text = requests.post(
        live_hub.url + "/v1/applications", data="name=x", headers={"Content-Type": "text/plain"}
    )
    assert as_text.status_code == 415 and _error(as_text)["code"] == "unsupported_media_type"
    broken = requests.post(
        live_hub.url + "/v1/applications",
        data=b"{not json",
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert broken.status_code == 400 and _error(broken)["code"] == "invalid_json"
    as_list = requests.post(live_hub.url + "/v1/applications", json=[1, 2], timeout=30)
    assert as_list.status_code == 422 and _error(as_list)["code"] == "validation_error"


def test_validation_errors_name_the_fields(live_hub: Any) -> None:
    response = requests.post(
        live_hub.url + "/v1/applications",
        json={
            "name": "Bank",
            "kind": "casino",
            "registration_no": "R1",
            "contact_email": "not-an-email",
            "public_key": "AAAA",
            "surprise": 1,
        },
        timeout=30,
    )
    assert response.status_code == 422
    error = _error(response)
    assert error["code"] == "validation_error"
    assert set(error["fields"]) == {"kind", "contact_email", "public_key", "surprise"}
    assert "Ed25519" in error["fields"]["public_key"][0]


def test_unexpected_exception_is_500_json_without_the_body(
    hub_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    @hub_app.post("/v1/_test_boom")
    def boom() -> str:
        raise RuntimeError("kaboom")

    with caplog.at_level(logging.ERROR, logger="hub.errors"):
        response = hub_app.test_client().post("/v1/_test_boom", json={"phone": "+8613800138000"})
    assert response.status_code == 500
    assert response.get_json()["error"]["code"] == "internal_error"
    assert "kaboom" not in response.get_data(as_text=True)
    assert caplog.records and "/v1/_test_boom" in caplog.records[0].getMessage()
    assert "13800138000" not in caplog.text


def test_healthz_ok(live_hub: Any) -> None:
    response = requests.get(live_hub.url + "/healthz", timeout=30)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:////nonexistent-dir/sub/hub.sqlite3",
        "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2",
    ],
)
def test_healthz_503_when_database_unreachable(url: str, tmp_path: Path) -> None:
    app = create_app({"database_url": url, "data_dir": tmp_path, "scheduler": False})
    try:
        response = app.test_client().get("/healthz")
    finally:
        get_db(app).dispose()
    assert response.status_code == 503
    assert response.get_json() == {"status": "error", "database": "unreachable"}
