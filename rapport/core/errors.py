"""Domain errors. Services raise them; the API and the views turn them into responses."""


class RapportError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str = "", fields: dict[str, list[str]] | None = None, **extra):
        self.fields = fields or {}
        self.extra = extra
        self.message = message or self.default_message()
        super().__init__(self.message)

    def default_message(self) -> str:
        return "The request is not valid."

    def __str__(self):
        return f"{self.message} {self.fields}" if self.fields else self.message


class BadRequest(RapportError):
    status = 400
    code = "bad_request"


class PermissionDenied(RapportError):
    status = 403
    code = "forbidden"

    def default_message(self):
        return "Your role may not do this."


class NotFound(RapportError):
    status = 404
    code = "not_found"

    def default_message(self):
        return "Not found."


class Conflict(RapportError):
    status = 409
    code = "conflict"


class VersionConflict(RapportError):
    status = 412
    code = "version_conflict"

    def default_message(self):
        return "The record was changed by someone else; reload it and try again."


class ValidationFailed(RapportError):
    status = 422
    code = "validation_error"

    def default_message(self):
        count = len(self.fields)
        return f"{count} field{'s are' if count != 1 else ' is'} invalid"
