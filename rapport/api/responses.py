"""What every endpoint shares: the error body, list pages, ETags, If-Match, Idempotency-Key."""

import datetime
import hashlib
import json

from django.db import IntegrityError, transaction
from django.http import HttpResponse, JsonResponse
from django.utils import timezone

from rapport.core.errors import BadRequest, Conflict, RapportError
from rapport.core.models import IdempotencyRecord

IDEMPOTENCY_WINDOW = datetime.timedelta(hours=24)


def error_response(status: int, code: str, message: str, fields=None, **extra) -> JsonResponse:
    body = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    body.update({k: v for k, v in extra.items() if v is not None})
    return JsonResponse({"error": body}, status=status)


def from_domain_error(exc: RapportError) -> JsonResponse:
    return error_response(exc.status, exc.code, exc.message, exc.fields, **exc.extra)


def page_response(page, schema) -> JsonResponse:
    body = {
        "items": [schema.from_orm(item).model_dump(mode="json") for item in page.items],
        "next_cursor": page.next_cursor,
    }
    if page.count is not None:
        body["count"] = page.count
        body["count_is_capped"] = page.count_is_capped
    return JsonResponse(body)


def record_response(obj, schema, status: int = 200) -> HttpResponse:
    # pydantic writes the JSON itself: a third faster than model_dump() then json.dumps().
    response = HttpResponse(schema.from_orm(obj).model_dump_json(), status=status,
                            content_type="application/json")
    response.headers["ETag"] = f'"{obj.version}"'
    return response


def expected_version(request) -> int | None:
    """The version in `If-Match` (`3` or `"3"`), or None when absent."""
    raw = request.headers.get("If-Match")
    if raw is None:
        return None
    raw = raw.strip().removeprefix("W/").strip('"')
    if not raw.isdigit():
        raise BadRequest("If-Match must hold the record's version, such as \"3\".",
                         fields={"If-Match": ["Not a version number."]})
    return int(raw)


def idempotent(request, produce, *, body: bytes | None = None) -> JsonResponse:
    """Run `produce` once per Idempotency-Key; a retry gets the first response back.

    `body` stands in for the request body where it cannot be read again (a file upload,
    which Django has already parsed).

    The stored response is written in the same transaction as the change, so two
    racing retries cannot both create: the loser's transaction rolls back.
    """
    key = request.headers.get("Idempotency-Key")
    if not key:
        return produce()
    if len(key) > 255:
        raise BadRequest(fields={"Idempotency-Key": ["Use at most 255 characters."]})
    fingerprint = hashlib.sha256(
        request.method.encode() + request.path.encode() + b"\n" + (request.body if body is None else body)
    ).hexdigest()
    fresh = IdempotencyRecord.objects.filter(
        user=request.auth, key=key, created_at__gte=timezone.now() - IDEMPOTENCY_WINDOW
    )

    def replay(record):
        if record.fingerprint != fingerprint:
            raise Conflict("This Idempotency-Key was used for a different request.",
                           fields={"Idempotency-Key": ["Already used with another body."]})
        response = JsonResponse(json.loads(record.body), status=record.status_code, safe=False)
        response.headers["Idempotent-Replayed"] = "true"
        return response

    existing = fresh.first()
    if existing:
        return replay(existing)
    IdempotencyRecord.objects.filter(
        user=request.auth, key=key, created_at__lt=timezone.now() - IDEMPOTENCY_WINDOW
    ).delete()
    try:
        with transaction.atomic():
            response = produce()
            if response.status_code < 500:
                IdempotencyRecord.objects.create(
                    user=request.auth, key=key, fingerprint=fingerprint,
                    status_code=response.status_code, body=response.content.decode(),
                )
            return response
    except IntegrityError:
        winner = fresh.first()
        if winner is None:
            raise
        return replay(winner)
