"""Pipelines (with their stages and board), deals, a deal's contacts, lost reasons."""

from django.http import HttpResponse, JsonResponse
from ninja import Router, Status

from rapport.api.responses import expected_version, idempotent, page_response, record_response
from rapport.api.schemas import ERRORS
from rapport.core.errors import NotFound
from rapport.sales import selectors, services
from rapport.sales.schemas import (
    BoardOut,
    DealContactIn,
    DealContactList,
    DealContactOut,
    DealContactPatch,
    DealDetailOut,
    DealIn,
    DealMoveIn,
    DealOut,
    DealPage,
    LostReasonIn,
    LostReasonOut,
    LostReasonPage,
    PipelineIn,
    PipelineOut,
    PipelinePage,
    PipelinePatch,
    StageIn,
    StageOrderIn,
    StageOut,
    StagePatch,
)

pipelines = Router(tags=["pipelines"])
deals = Router(tags=["deals"])
lost_reasons = Router(tags=["pipelines"])

DEAL_FILTERS = (
    "Filters: `name`, `amount` (whole units: `amount__gte=1000`), `currency`, `pipeline_id`, "
    "`stage_id`, `status` (`open`, `won`, `lost`), `owner_id`, `team_id` (the owner's team), "
    "`company_id`, `lost_reason_id`, `expected_close_date` (`__gte`/`__lte`: deals without one "
    "never match), `created_at`, `updated_at`, `closed_at`, `tag=` (repeatable), "
    "`custom__<key>=`, `updated_since=`, `q` (search), `stale=true` (open deals idle past their "
    "stage's rotting days). Unknown filters are a 400."
)
LIST_DOC = (
    "Cursor-paginated: `limit` (1-500), `cursor`, `sort` (`name`, `amount`, "
    "`expected_close_date` (deals without one last), `created_at`, `updated_at`; `-` for "
    "descending), `count=true`. " + DEAL_FILTERS
)


def _sent(payload) -> dict:
    return payload.model_dump(exclude_unset=True)


def _deal_response(request, deal_id: int, status: int = 200, *, written: bool = False):
    """The deal's detail; after a write, even when the writer handed it to an owner outside
    their scope (they see what they saved once; a later read is a 404)."""
    deal = selectors.deal_detail(user=request.auth, deal_id=deal_id, any_owner=written)
    if deal is None:
        raise NotFound()
    return record_response(deal, DealDetailOut, status)


def _pipeline_response(pipeline_id: int, status: int = 200):
    pipeline = selectors.pipeline_get(pipeline_id=pipeline_id)
    if pipeline is None:
        raise NotFound()
    return record_response(pipeline, PipelineOut, status)


def _items(objects, schema) -> JsonResponse:
    """A short list (pipelines, lost reasons) in the page shape every list has, on one page."""
    return JsonResponse({"items": [schema.from_orm(o).model_dump(mode="json") for o in objects],
                         "next_cursor": None})


# Pipelines and stages ---------------------------------------------------------------------

CATEGORY_DOC = (
    "where the stage's open deals count in the forecast: `pipeline`, `best_case` or `commit`; "
    "empty or null for the default from its probability (commit from 70 %, best case from "
    "40 %). Deals follow it as they are read; a deal with its own `forecast_category` keeps "
    "it. Anything else is a 422 naming the field.")

@pipelines.get("", response={200: PipelinePage, **ERRORS},
               description="Every pipeline in order, each with its stages in order (one page).")
def list_pipelines(request):
    return _items(selectors.pipeline_list(), PipelineOut)


@pipelines.post("", response={201: PipelineOut, **ERRORS},
                description="Admins. `stages` lists open stages, then one `won` and one `lost` "
                            "stage (each `name`, `probability`, `kind`, `rotting_days`, "
                            "`forecast_category`); left out, the standard six are created.")
def create_pipeline(request, payload: PipelineIn):
    def produce():
        data = _sent(payload)
        if payload.stages is not None:
            data["stages"] = [stage.model_dump(exclude_unset=True) for stage in payload.stages]
        pipeline = services.pipeline_create(actor=request.auth, data=data)
        return _pipeline_response(pipeline.pk, 201)
    return idempotent(request, produce)


@pipelines.get("/{int:pipeline_id}", response={200: PipelineOut, **ERRORS})
def get_pipeline(request, pipeline_id: int):
    return _pipeline_response(pipeline_id)


@pipelines.patch("/{int:pipeline_id}", response={200: PipelineOut, **ERRORS},
                 description="Admins. `name`, `is_default`, `position` (0 first). "
                             "`If-Match: <version>` guards against lost updates.")
def update_pipeline(request, pipeline_id: int, payload: PipelinePatch):
    services.pipeline_update(actor=request.auth, pipeline_id=pipeline_id, data=_sent(payload),
                             expected_version=expected_version(request))
    return _pipeline_response(pipeline_id)


@pipelines.delete("/{int:pipeline_id}", response={204: None, **ERRORS},
                  description="Admins. 409 for the default pipeline or while any deal is in it.")
def delete_pipeline(request, pipeline_id: int):
    services.pipeline_delete(actor=request.auth, pipeline_id=pipeline_id)
    return HttpResponse(status=204)


@pipelines.get("/{int:pipeline_id}/board", response={200: BoardOut, **ERRORS},
               description="The pipeline's stages, each with `count`, `totals` per currency "
                           "(`amount`, `weighted_amount`) and its first `limit` deals (default "
                           "50; `has_more` says if there are others) in `sort` order (default "
                           "`expected_close_date`). " + DEAL_FILTERS)
def get_board(request, pipeline_id: int, limit: str | None = None, sort: str | None = None,
              q: str | None = None):
    pipeline = selectors.pipeline_get(pipeline_id=pipeline_id, with_stages=False)
    if pipeline is None:
        raise NotFound()
    return selectors.board(user=request.auth, pipeline=pipeline, params=request.GET)


@pipelines.post("/{int:pipeline_id}/stages", response={201: StageOut, **ERRORS},
                description="Admins. An open stage at `position` (0 first; default: after the "
                            "last open stage). `forecast_category`: " + CATEGORY_DOC)
def create_stage(request, pipeline_id: int, payload: StageIn):
    def produce():
        stage = services.stage_create(actor=request.auth, pipeline_id=pipeline_id,
                                      data=_sent(payload))
        return JsonResponse(StageOut.from_orm(stage).model_dump(mode="json"), status=201)
    return idempotent(request, produce)


@pipelines.patch("/{int:pipeline_id}/stages/{int:stage_id}", response={200: StageOut, **ERRORS},
                 description="Admins. `name`, `probability`, `rotting_days`, "
                             "`forecast_category`: " + CATEGORY_DOC)
def update_stage(request, pipeline_id: int, stage_id: int, payload: StagePatch):
    return services.stage_update(actor=request.auth, pipeline_id=pipeline_id, stage_id=stage_id,
                                 data=_sent(payload))


@pipelines.delete("/{int:pipeline_id}/stages/{int:stage_id}", response={204: None, **ERRORS},
                  description="Admins. 409 for the won and lost stages, the last open stage, "
                              "and a stage any deal is in.")
def delete_stage(request, pipeline_id: int, stage_id: int):
    services.stage_delete(actor=request.auth, pipeline_id=pipeline_id, stage_id=stage_id)
    return HttpResponse(status=204)


@pipelines.post("/{int:pipeline_id}/stages/reorder", response={200: PipelineOut, **ERRORS},
                description="Admins. `stage_ids`: every stage once, in the new order.")
def reorder_stages(request, pipeline_id: int, payload: StageOrderIn):
    services.stages_reorder(actor=request.auth, pipeline_id=pipeline_id,
                            stage_ids=payload.stage_ids, expected_version=expected_version(request))
    return _pipeline_response(pipeline_id)


# Lost reasons -----------------------------------------------------------------------------

@lost_reasons.get("", response={200: LostReasonPage, **ERRORS},
                  description="The reasons a lost deal is given, in order (one page); "
                              "`include_inactive=true` adds those switched off.")
def list_lost_reasons(request, include_inactive: bool = False):
    return _items(selectors.lost_reason_list(include_inactive=include_inactive), LostReasonOut)


@lost_reasons.post("", response={201: LostReasonOut, **ERRORS}, description="Admins.")
def create_lost_reason(request, payload: LostReasonIn):
    def produce():
        reason = services.lost_reason_create(actor=request.auth, data=_sent(payload))
        return JsonResponse(LostReasonOut.from_orm(reason).model_dump(mode="json"), status=201)
    return idempotent(request, produce)


@lost_reasons.patch("/{int:reason_id}", response={200: LostReasonOut, **ERRORS},
                    description="Admins. `name`, `active`, `position`.")
def update_lost_reason(request, reason_id: int, payload: LostReasonIn):
    return services.lost_reason_update(actor=request.auth, reason_id=reason_id, data=_sent(payload))


@lost_reasons.delete("/{int:reason_id}", response={204: None, **ERRORS},
                     description="Admins. 409 once a deal was lost for it: switch it off instead.")
def delete_lost_reason(request, reason_id: int):
    services.lost_reason_delete(actor=request.auth, reason_id=reason_id)
    return HttpResponse(status=204)


# Deals ------------------------------------------------------------------------------------

@deals.get("", response={200: DealPage, **ERRORS}, description=LIST_DOC)
def list_deals(request, limit: str | None = None, cursor: str | None = None,
               q: str | None = None, sort: str | None = None, count: str | None = None):
    return page_response(selectors.deal_list(user=request.auth, params=request.GET), DealOut)


@deals.post("", response={201: DealDetailOut, **ERRORS},
            description="In `stage_id`, else the first open stage of `pipeline_id`, else of the "
                        "default pipeline. `probability` left out or null follows the stage.")
def create_deal(request, payload: DealIn):
    def produce():
        deal = services.deal_create(actor=request.auth, data=_sent(payload))
        return _deal_response(request, deal.pk, 201, written=True)
    return idempotent(request, produce)


@deals.get("/{int:deal_id}", response={200: DealDetailOut, **ERRORS},
           description="The deal with its contacts, stage history and time in each stage.")
def get_deal(request, deal_id: int):
    return _deal_response(request, deal_id)


@deals.patch("/{int:deal_id}", response={200: DealDetailOut, **ERRORS},
             description="Only the fields sent change; `stage_id` or `pipeline_id` move the deal "
                         "as `/move` does. `If-Match: <version>` guards against lost updates "
                         "(412 when stale).")
def update_deal(request, deal_id: int, payload: DealIn):
    services.deal_update(actor=request.auth, deal_id=deal_id, data=_sent(payload),
                         expected_version=expected_version(request))
    return _deal_response(request, deal_id, written=True)


@deals.delete("/{int:deal_id}", response={204: None, **ERRORS})
def delete_deal(request, deal_id: int):
    services.deal_delete(actor=request.auth, deal_id=deal_id)
    return HttpResponse(status=204)


@deals.post("/{int:deal_id}/restore", response={200: DealDetailOut, **ERRORS})
def restore_deal(request, deal_id: int):
    services.deal_restore(actor=request.auth, deal_id=deal_id)
    return _deal_response(request, deal_id)


@deals.post("/{int:deal_id}/move", response={200: DealDetailOut, **ERRORS},
            description="To `stage_id`, or by `status` (`won`, `lost`: the pipeline's won or lost "
                        "stage; `open`: back to the open stage it was last in). A lost deal needs "
                        "`lost_reason_id` (422 naming it); `lost_note` is optional. Send "
                        "`If-Match: <version>`: of two moves from the same version the second "
                        "gets 412 and changes nothing.")
def move_deal(request, deal_id: int, payload: DealMoveIn):
    services.deal_move(actor=request.auth, deal_id=deal_id, stage_id=payload.stage_id,
                       status=payload.status, lost_reason_id=payload.lost_reason_id,
                       lost_note=payload.lost_note, expected_version=expected_version(request))
    return _deal_response(request, deal_id)


@deals.get("/{int:deal_id}/contacts", response={200: DealContactList, **ERRORS},
           description="The deal's contacts you may see, with their roles.")
def list_deal_contacts(request, deal_id: int):
    deal = selectors.deal_get(user=request.auth, deal_id=deal_id)
    if deal is None:
        raise NotFound()
    return {"items": selectors.deal_contacts(user=request.auth, deal=deal)}


def _contact_row(request, deal_id: int, contact_id: int):
    deal = selectors.deal_get(user=request.auth, deal_id=deal_id)
    rows = selectors.deal_contacts(user=request.auth, deal=deal, contact_id=contact_id) if deal else []
    return rows[0] if rows else None


@deals.post("/{int:deal_id}/contacts", response={200: DealContactOut, 201: DealContactOut, **ERRORS},
            description="Puts a contact on the deal with a `role` (`decision_maker`, "
                        "`economic_buyer`, `champion`, `influencer`, `technical_buyer`, `user`, "
                        "`other` or empty): 201, or 200 with the new role if it was on it.")
def add_deal_contact(request, deal_id: int, payload: DealContactIn):
    _, created = services.deal_contact_add(actor=request.auth, deal_id=deal_id,
                                           contact_id=payload.contact_id, role=payload.role)
    return Status(201 if created else 200, _contact_row(request, deal_id, payload.contact_id))


@deals.patch("/{int:deal_id}/contacts/{int:contact_id}", response={200: DealContactOut, **ERRORS})
def update_deal_contact(request, deal_id: int, contact_id: int, payload: DealContactPatch):
    if _contact_row(request, deal_id, contact_id) is None:
        raise NotFound()
    sent = _sent(payload)
    if "role" in sent:  # null clears it
        services.deal_contact_add(actor=request.auth, deal_id=deal_id, contact_id=contact_id,
                                  role=sent["role"] or "")
    return _contact_row(request, deal_id, contact_id)


@deals.delete("/{int:deal_id}/contacts/{int:contact_id}", response={204: None, **ERRORS})
def remove_deal_contact(request, deal_id: int, contact_id: int):
    services.deal_contact_remove(actor=request.auth, deal_id=deal_id, contact_id=contact_id)
    return HttpResponse(status=204)
