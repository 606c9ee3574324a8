"""Schemas every router shares."""

from ninja import Schema


class ErrorDetail(Schema):
    code: str
    message: str
    fields: dict[str, list[str]] | None = None


class Error(Schema):
    error: ErrorDetail


ERRORS = {400: Error, 401: Error, 403: Error, 404: Error, 409: Error, 412: Error, 422: Error}
