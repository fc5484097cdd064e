"""One JSON error shape for the whole `/v1` API.

`{"error": {"code": "<snake_case>", "message": "<sentence>", "fields": {...} | null}}`.
Raise `ApiError` anywhere in a request; werkzeug HTTP errors, marshmallow
ValidationErrors and unexpected exceptions are converted by the handlers below,
so a client never has to parse HTML or a stack trace.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, jsonify, request
from marshmallow import ValidationError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException

log = logging.getLogger("hub.errors")

_HTTP_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}


class ApiError(Exception):
    """An error answer: HTTP `status`, machine `code`, human `message`, per-field problems."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        fields: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = dict(fields) if fields is not None else None
        self.headers = dict(headers or {})
        # Machine-readable facts a client acts on (a quota's limit and reset time).
        self.details = dict(details) if details is not None else None

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message, "fields": self.fields}
        if self.details is not None:
            body["details"] = self.details
        return {"error": body}


def error_response(err: ApiError) -> Response:
    response = jsonify(err.to_dict())
    response.status_code = err.status
    for name, value in err.headers.items():
        response.headers[name] = value
    return response


def _normalise_messages(messages: Any) -> dict[str, Any]:
    if isinstance(messages, dict):
        return {str(k): v for k, v in messages.items()}
    if isinstance(messages, list):
        return {"_schema": messages}
    return {"_schema": [str(messages)]}


def validation_error(exc: ValidationError) -> ApiError:
    fields = _normalise_messages(exc.messages)
    names = ", ".join(sorted(fields)) or "body"
    return ApiError(422, "validation_error", f"invalid input: {names}", fields=fields)


DB_RETRY_AFTER_S = 5
# SQLite failures that mean "try again later", not a bug in the statement.
_SQLITE_TRANSIENT = ("database is locked", "unable to open database", "disk i/o error")


def is_database_unavailable(exc: BaseException) -> bool:
    """True when `exc` means the database cannot be reached right now (not a bad query).

    Why a narrow test: a broken connection (PostgreSQL restarted, network gone,
    pool exhausted) deserves a 503 the client retries, while a programming
    error such as a missing table must stay a 500 that someone investigates.
    """
    if isinstance(exc, PoolTimeoutError):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    orig = exc.orig
    module = type(orig).__module__ if orig is not None else ""
    if module.startswith("psycopg"):
        import psycopg

        return isinstance(orig, psycopg.OperationalError)
    if module.startswith("sqlite3"):
        text = str(orig).lower()
        return any(marker in text for marker in _SQLITE_TRANSIENT)
    return False


def database_unavailable() -> ApiError:
    return ApiError(
        503,
        "database_unavailable",
        "the hub's database is unavailable; retry shortly",
        headers={"Retry-After": str(DB_RETRY_AFTER_S)},
    )


def _is_api_path() -> bool:
    return request.path.startswith("/v1") or request.path in ("/healthz", "/readyz", "/metrics")


def register_error_handlers(app: Flask) -> None:
    """Install the handlers on `app` (called by `create_app`)."""

    @app.errorhandler(ApiError)
    def _api_error(err: ApiError) -> Response:
        return error_response(err)

    @app.errorhandler(ValidationError)
    def _validation(err: ValidationError) -> Response:
        return error_response(validation_error(err))

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException) -> Response | HTTPException:
        if not _is_api_path():
            return err
        status = err.code or 500
        code = _HTTP_CODES.get(status, "http_error")
        message = err.description or err.name
        if status == 413:
            limit = app.config.get("MAX_CONTENT_LENGTH")
            message = f"request body exceeds the limit of {limit} bytes"
        api = ApiError(status, code, message)
        response = error_response(api)
        if status == 405 and hasattr(err, "valid_methods") and err.valid_methods:
            response.headers["Allow"] = ", ".join(err.valid_methods)
        return response

    @app.errorhandler(DBAPIError)
    @app.errorhandler(PoolTimeoutError)
    def _database(err: Exception) -> Response | tuple[str, int]:
        if not is_database_unavailable(err):
            return _unexpected(err)
        log.warning(
            "database unavailable on %s %s: %s", request.method, request.path, type(err).__name__
        )
        if not _is_api_path():
            return "database unavailable; retry shortly", 503
        return error_response(database_unavailable())

    @app.errorhandler(Exception)
    def _unexpected(err: Exception) -> Response | tuple[str, int]:
        # Logged with method and path only: the body may carry identifiers.
        log.error(
            "unhandled error on %s %s: %s",
            request.method,
            request.path,
            type(err).__name__,
            exc_info=err,
        )
        api = ApiError(500, "internal_error", "internal error; the hub operator has been told")
        if not _is_api_path():
            return "internal error", 500
        return error_response(api)
