"""Errors as Problem Details (RFC 9457, ``application/problem+json``): ``type``, ``title``,
``status``, ``detail`` and, for invalid input, ``errors``: every bad field at once, each with
its ``field``, ``message`` and (masked when personal) ``value``."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from engine.errors import PERSONAL_FIELDS, Problem, mask

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("leadroute.api")

TITLES = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found",
          405: "Method not allowed", 409: "Conflict", 413: "Payload too large",
          415: "Unsupported media type", 422: "Unprocessable content",
          429: "Too many requests", 500: "Internal server error",
          503: "Service unavailable"}


class ApiProblem(Exception):
    """An error answered as Problem Details. ``kind`` becomes the ``type`` URI's last part."""

    def __init__(self, status: int, detail: str, *, kind: str | None = None,
                 errors: Sequence[Mapping[str, Any]] | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.kind = kind or TITLES.get(status, "error").lower().replace(" ", "-")
        self.errors = [dict(e) for e in errors] if errors is not None else None
        self.headers = dict(headers or {})


def shown(field: str, value: object) -> object:
    """A value as an error may show it: personal fields masked."""
    if field in PERSONAL_FIELDS and value not in ("", None):
        return mask(value)
    return value


def field_errors(problems: Sequence[Problem]) -> list[dict[str, Any]]:
    return [{"field": p.field, "message": p.message, "value": shown(p.field, p.value)}
            for p in problems]


def invalid(problems: Sequence[Problem], detail: str = "the request has invalid fields"
            ) -> ApiProblem:
    return ApiProblem(422, detail, kind="validation", errors=field_errors(problems))


def problem_response(status: int, detail: str, kind: str,
                     errors: list[dict[str, Any]] | None = None,
                     headers: Mapping[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"type": f"urn:leadroute:problem:{kind}",
                            "title": TITLES.get(status, "Error"), "status": status,
                            "detail": detail}
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON,
                        headers=dict(headers or {}))


def _loc(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def install(app: FastAPI) -> None:
    """Answer every error as Problem Details; never a bare 500 page."""

    @app.exception_handler(ApiProblem)
    async def _problem(_: Request, exc: ApiProblem) -> JSONResponse:
        return problem_response(exc.status, exc.detail, exc.kind, exc.errors, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        malformed = False
        for err in exc.errors():
            if err.get("type") == "json_invalid":
                malformed = True
            field = _loc(err.get("loc", ()))
            errors.append({"field": field, "message": str(err.get("msg", "invalid")),
                           "value": shown(field.rsplit(".", 1)[-1], _plain(err.get("input")))})
        if malformed:
            return problem_response(400, "the body is not valid JSON", "malformed-json",
                                    errors)
        return problem_response(422, "the request has invalid fields", "validation", errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else TITLES.get(exc.status_code, "")
        return problem_response(exc.status_code, detail,
                                TITLES.get(exc.status_code, "error").lower().replace(" ", "-"),
                                headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error", exc_info=exc)
        return problem_response(500, "an unexpected error; it has been logged", "internal")


def _plain(value: Any) -> Any:
    """A value as JSON can carry it (error inputs may be bytes or objects)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")[:200]
    if isinstance(value, list | dict):  # a whole object may carry personal fields: not echoed
        return None
    return str(value)[:200]
