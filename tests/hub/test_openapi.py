"""The OpenAPI description: valid OpenAPI 3, complete (every `/v1` route), and served
with an offline documentation page."""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import validate

from hub import create_app
from hub.api.openapi import AUTH_ERRORS, COMMON_ERRORS, DOC_ASSETS, OPERATIONS, SECURITY, Auth

IGNORED_METHODS = {"HEAD", "OPTIONS"}


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    yield create_app({"data_dir": tmp_path, "scheduler": False})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def openapi_path(rule: str) -> str:
    """`/v1/x/<int:id>/<name>` → `/v1/x/{id}/{name}`."""
    return re.sub(r"<(?:[a-z_]+:)?([a-z_]+)>", r"{\1}", rule)


def test_served_spec_is_valid_openapi_3(client: FlaskClient) -> None:
    answer = client.get("/v1/openapi.json")
    assert answer.status_code == 200
    spec = answer.get_json()
    validate(spec)
    assert spec["openapi"].startswith("3.")
    assert spec["info"]["title"]


def test_every_v1_route_is_described_and_nothing_else(app: Flask, client: FlaskClient) -> None:
    spec = client.get("/v1/openapi.json").get_json()
    routes = {
        (method.lower(), openapi_path(rule.rule)): rule.endpoint
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/v1") or rule.rule in ("/healthz", "/readyz", "/metrics")
        for method in rule.methods - IGNORED_METHODS
    }
    described = {
        (method, path) for path, item in spec["paths"].items() for method in item
    }
    assert set(routes) - described == set(), "routes missing from the OpenAPI table"
    assert described - set(routes) == set(), "described operations with no route"
    for op in OPERATIONS:
        assert routes[(op.method, op.path)] == op.endpoint, op


def test_operations_document_auth_errors_and_answers(client: FlaskClient) -> None:
    spec = client.get("/v1/openapi.json").get_json()
    ids = [op.operation_id for op in OPERATIONS]
    assert len(ids) == len(set(ids))
    for op in OPERATIONS:
        described = spec["paths"][op.path][op.method]
        assert described["security"] == SECURITY[op.auth]
        assert described["x-lianfang-auth"] == op.auth.value
        statuses = set(described["responses"])
        assert {str(s) for s in (*COMMON_ERRORS, *AUTH_ERRORS[op.auth])} <= statuses
        for status in op.ok:
            assert str(status) in statuses
        if op.auth is not Auth.PUBLIC:
            assert {"401", "403"} <= statuses
        for status, response in described["responses"].items():
            if status.startswith("4") and status != "409" or status == "503":
                assert response["$ref"] == f"#/components/responses/Error{status}"
    error = spec["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    assert set(spec["components"]["schemas"]["ErrorBody"]["properties"]) == {
        "code", "message", "fields", "details"  # details: optional (quota_exceeded)
    }


def test_request_schemas_are_the_loaded_marshmallow_schemas(client: FlaskClient) -> None:
    """Limits in the spec come from the schemas the views load (no second copy)."""
    from schemas.membership import ApplicationSchema

    spec = client.get("/v1/openapi.json").get_json()
    body = spec["paths"]["/v1/applications"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"]["$ref"].endswith("/Application")
    application = spec["components"]["schemas"]["Application"]
    assert set(application["required"]) == {
        name for name, f in ApplicationSchema().fields.items() if f.required
    }
    assert application["properties"]["name"]["maxLength"] == 200
    assert application["additionalProperties"] is False
    batch = spec["components"]["schemas"]["ReportBatchDoc"]["properties"]["reports"]
    assert batch["maxItems"] == 10_000


def test_docs_page_is_offline(client: FlaskClient) -> None:
    page = client.get("/v1/docs")
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "http://" not in html and "https://" not in html
    referenced = set(re.findall(r'(?:src|href)="([^"]+)"', html))
    assert referenced == {f"/v1/docs/assets/{name}" for name in
                          ("swagger-ui.css", "swagger-ui-bundle.js", "docs-init.js")}
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    for url in referenced:
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.data) > 200
    init = client.get("/v1/docs/assets/docs-init.js").get_data(as_text=True)
    assert '"/v1/openapi.json"' in init and "validatorUrl: null" in init


def test_only_vendored_assets_are_served(client: FlaskClient) -> None:
    for name in ("LICENSE", "VERSION.md", "..%2F..%2Fconfig.py", "swagger-ui.js"):
        answer = client.get(f"/v1/docs/assets/{name}")
        assert answer.status_code == 404, name
        assert answer.get_json()["error"]["code"] == "not_found"
    assert {"swagger-ui.css", "swagger-ui-bundle.js", "docs-init.js"} == DOC_ASSETS
    vendored = Path(__file__).resolve().parents[2] / "hub" / "static" / "apidocs"
    assert (vendored / "LICENSE").read_text().lstrip().startswith("Apache License")
    assert "5.35.0" in (vendored / "VERSION.md").read_text()


def test_gzipped_assets_are_served_gzipped_or_plain(client: FlaskClient) -> None:
    """The bundle is stored gzipped (SDK footprint): a browser gets gzip, others plain JS."""
    gz = client.get("/v1/docs/assets/swagger-ui-bundle.js", headers={"Accept-Encoding": "gzip"})
    assert gz.status_code == 200 and gz.headers["Content-Encoding"] == "gzip"
    assert gz.mimetype in ("text/javascript", "application/javascript")
    plain = client.get("/v1/docs/assets/swagger-ui-bundle.js",
                       headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers
    assert gzip.decompress(gz.data) == plain.data
    assert b"SwaggerUIBundle" in plain.data
    css = client.get("/v1/docs/assets/swagger-ui.css", headers={"Accept-Encoding": "identity"})
    assert css.mimetype == "text/css" and b".swagger-ui" in css.data
