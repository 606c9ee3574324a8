"""Imports over the API: upload a file with its mapping, follow the job, fetch the failed
rows, undo. The same services as the import pages."""

import hashlib
import json

from django.db import transaction
from django.http import JsonResponse
from ninja import File, Form, Router, Status
from ninja.files import UploadedFile

from rapport.api.responses import idempotent
from rapport.api.schemas import ERRORS
from rapport.core.errors import NotFound, ValidationFailed
from rapport.core.history import to_json
from rapport.transfer import selectors, services
from rapport.transfer.downloads import export_file_response, failed_rows_response
from rapport.transfer.schemas import (
    ERRORS_SHOWN,
    ExportIn,
    ExportOut,
    ExportPage,
    ImportOut,
    ImportPage,
    ImportPreviewOut,
)

router = Router(tags=["imports"])


def _visible(request, job_id: int):
    job = selectors.import_get(user=request.auth, job_id=job_id)
    if job is None:
        raise NotFound()
    return job


def _json_field(name: str, raw: str | None):
    if raw in (None, ""):
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        raise ValidationFailed(fields={name: ["Send a JSON object."]}) from None


def _respond(job, status: int) -> JsonResponse:
    return JsonResponse(ImportOut.from_orm(job).model_dump(mode="json"), status=status)


@router.post("", response={201: ImportOut, 202: ImportOut, **ERRORS},
             description="multipart/form-data: `file` (CSV, .xlsx or .vcf), `object_type` "
                         "(`contact`, `company` or `lead`), optionally `mapping` (a JSON object: "
                         "column header -> field, `\"\"` to skip; suggested from the headers when "
                         "left out), `saved_mapping` (a saved mapping's name), `match_on` (comma "
                         "list of email, phone, external_id, domain; leads: email, phone), "
                         "`on_match` (skip, fill, "
                         "overwrite) and `start` (default true: 202 and the job runs; false: "
                         "201, a draft to look at with /preview and start with /start).")
def create_import(request, file: File[UploadedFile], object_type: Form[str] = "contact",
                  mapping: Form[str] = "", saved_mapping: Form[str] = "",
                  match_on: Form[str | None] = None, on_match: Form[str] = "skip",
                  start: Form[bool] = True):
    digest = hashlib.sha256()
    for chunk in file.chunks():
        digest.update(chunk)
    fingerprint = digest.hexdigest().encode() + json.dumps(
        [object_type, mapping, saved_mapping, match_on, on_match, start]).encode()

    @transaction.atomic
    def produce():
        job = services.import_create(actor=request.auth, upload=file, object_type=object_type)
        chosen = _json_field("mapping", mapping)
        policy_match, policy_on = match_on, on_match
        if saved_mapping:
            saved = selectors.saved_mappings(object_type=job.object_type).filter(name=saved_mapping).first()
            if saved is None:
                raise ValidationFailed(fields={"saved_mapping": ["No saved mapping has this name."]})
            chosen = chosen or {h: saved.mapping.get(h, "") for h in job.headers}
            policy_match = policy_match if policy_match is not None else saved.match_on
            policy_on = on_match if on_match != "skip" else saved.on_match
        job = services.import_configure(
            actor=request.auth, job_id=job.pk, mapping=chosen if chosen is not None else job.mapping,
            match_on=policy_match if policy_match is not None else job.match_on, on_match=policy_on)
        if start:
            job = services.import_start(actor=request.auth, job_id=job.pk)
        return _respond(job, 202 if start else 201)

    return idempotent(request, produce, body=fingerprint)


@router.get("", response={200: ImportPage, **ERRORS},
            description="Your imports, newest first (an admin sees everyone's).")
def list_imports(request):
    return {"items": list(selectors.import_list(user=request.auth, failures=ERRORS_SHOWN))}


@router.get("/{int:import_id}", response={200: ImportOut, **ERRORS})
def get_import(request, import_id: int):
    return _visible(request, import_id)


@router.get("/{int:import_id}/preview", response={200: ImportPreviewOut, **ERRORS},
            description="The first rows as they would be stored, with each row's action and problems.")
def preview_import(request, import_id: int):
    plans = selectors.preview(_visible(request, import_id))
    return {"rows": [_preview_row(p) for p in plans]}


def _preview_row(plan) -> dict:
    values = {k: to_json(v) for k, v in plan.data.items()}
    return {"row": plan.number, "action": plan.action, "note": plan.note, "values": values,
            "company": plan.company, "tags": plan.tags,
            "problems": [{"row": plan.number, **p} for p in plan.problems]}


@router.post("/{int:import_id}/start", response={202: ImportOut, **ERRORS})
def start_import(request, import_id: int):
    _visible(request, import_id)
    return Status(202, services.import_start(actor=request.auth, job_id=import_id))


@router.post("/{int:import_id}/undo", response={202: ImportOut, **ERRORS},
             description="Trashes what the import created and puts back what it updated "
                         "(records changed since are left as they are).")
def undo_import(request, import_id: int):
    _visible(request, import_id)
    return Status(202, services.import_undo(actor=request.auth, job_id=import_id))


@router.get("/{int:import_id}/failed-rows", response={200: None, **ERRORS},
            description="The rows that failed, as CSV: the file's columns and the problems.")
def failed_rows(request, import_id: int):
    job = _visible(request, import_id)
    return failed_rows_response(job)


exports = Router(tags=["exports"])


def _export_visible(request, job_id: int):
    job = selectors.export_get(user=request.auth, job_id=job_id)
    if job is None:
        raise NotFound()
    return job


@exports.post("", response={202: ExportOut, **ERRORS},
              description="Exports the list the filters describe, as the list endpoints take them "
                          "(`filters` holds `field=value`, `field__in`, `tag`, `custom__<key>`...), "
                          "with `q` and `sort`. The job runs in the background; poll it and fetch "
                          "`download_url` when `status` is `done`.")
def create_export(request, payload: ExportIn):
    params = {**payload.filters, **({"q": payload.q} if payload.q else {}),
              **({"sort": payload.sort} if payload.sort else {})}
    return idempotent(request, lambda: JsonResponse(ExportOut.from_orm(services.export_create(
        actor=request.auth, object_type=payload.object_type, format=payload.format,
        params=params)).model_dump(mode="json"), status=202))


@exports.get("", response={200: ExportPage, **ERRORS},
             description="Your exports, newest first (an admin sees everyone's).")
def list_exports(request):
    return {"items": list(selectors.export_list(user=request.auth))}


@exports.get("/{int:export_id}", response={200: ExportOut, **ERRORS})
def get_export(request, export_id: int):
    return _export_visible(request, export_id)


@exports.get("/{int:export_id}/download", response={200: None, **ERRORS},
             description="The file, once the export is done (404 before).")
def download_export(request, export_id: int):
    job = _export_visible(request, export_id)
    if job.status != "done" or not job.file:
        raise NotFound("This export is not ready yet.")
    return export_file_response(job)
