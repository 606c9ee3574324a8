"""Leads (with their conversion), lead assignment rules and the lead settings."""

from django.http import HttpResponse, JsonResponse
from ninja import Router

from rapport.api.responses import expected_version, idempotent, page_response, record_response
from rapport.api.schemas import ERRORS
from rapport.core.errors import NotFound
from rapport.sales import lead_selectors as selectors
from rapport.sales import lead_services as services
from rapport.sales.lead_schemas import (
    AssignmentRuleIn,
    AssignmentRuleOrderIn,
    AssignmentRuleOut,
    AssignmentRulePage,
    LeadConversionOut,
    LeadConvertIn,
    LeadIn,
    LeadOut,
    LeadPage,
    LeadSettingsIn,
    LeadSettingsOut,
)

leads = Router(tags=["leads"])
assignment_rules = Router(tags=["leads"])
lead_settings = Router(tags=["leads"])

LIST_DOC = (
    "Cursor-paginated: `limit` (1-500), `cursor`, `sort` (`created_at`, `updated_at`, `score`, "
    "`last_name`; `-` for descending), `count=true`. Filters: `first_name`, `last_name`, "
    "`email`, `phone`, `company_name`, `title`, `source`, `status` (`new`, `working`, "
    "`qualified`, `disqualified`), `score` (`score__gte=50`), `owner_id`, `team_id` (the owner's "
    "team), `country`, `company_size`, `created_at`, `updated_at`, `converted_at` "
    "(`__gte`/`__lte`), `tag=` (repeatable), `custom__<key>=`, `updated_since=`, `q` (search). "
    "Unknown filters are a 400."
)


def _sent(payload) -> dict:
    return payload.model_dump(exclude_unset=True)


def _lead_response(request, lead_id: int, status: int = 200, *, written: bool = False):
    """The lead; after a write, even when an assignment handed it to an owner outside the
    writer's scope (they see what they saved once; a later read is a 404)."""
    lead = selectors.lead_detail(user=request.auth, lead_id=lead_id, any_owner=written)
    if lead is None:
        raise NotFound()
    return record_response(lead, LeadOut, status)


# Leads --------------------------------------------------------------------------------------

@leads.get("", response={200: LeadPage, **ERRORS}, description=LIST_DOC)
def list_leads(request, limit: str | None = None, cursor: str | None = None,
               q: str | None = None, sort: str | None = None, count: str | None = None,
               status: str | None = None, source: str | None = None,
               owner_id: str | None = None):
    return page_response(selectors.lead_list(user=request.auth, params=request.GET), LeadOut)


@leads.post("", response={201: LeadOut, **ERRORS},
            description="Without `owner_id` the lead is assigned by the assignment rules (in "
                        "order; the first that matches), else the fallback owner, else you. "
                        "Without `source` it is `api`. `Idempotency-Key` makes a retry safe.")
def create_lead(request, payload: LeadIn):
    def produce():
        lead = services.lead_create(actor=request.auth, data=_sent(payload))
        return _lead_response(request, lead.pk, 201, written=True)
    return idempotent(request, produce)


@leads.get("/{int:lead_id}", response={200: LeadOut, **ERRORS})
def get_lead(request, lead_id: int):
    return _lead_response(request, lead_id)


@leads.patch("/{int:lead_id}", response={200: LeadOut, **ERRORS},
             description="Only the fields sent change. `status: disqualified` needs "
                         "`disqualified_reason`. `If-Match: <version>` guards against lost "
                         "updates (412 when stale).")
def update_lead(request, lead_id: int, payload: LeadIn):
    services.lead_update(actor=request.auth, lead_id=lead_id, data=_sent(payload),
                         expected_version=expected_version(request))
    return _lead_response(request, lead_id, written=True)


@leads.delete("/{int:lead_id}", response={204: None, **ERRORS})
def delete_lead(request, lead_id: int):
    services.lead_delete(actor=request.auth, lead_id=lead_id)
    return HttpResponse(status=204)


@leads.post("/{int:lead_id}/restore", response={200: LeadOut, **ERRORS})
def restore_lead(request, lead_id: int):
    services.lead_restore(actor=request.auth, lead_id=lead_id)
    return _lead_response(request, lead_id)


@leads.post("/{int:lead_id}/convert", response={200: LeadConversionOut, **ERRORS},
            description="In one transaction: links the contact with the lead's email (never "
                        "a second one) or creates it; links the company with the domain of "
                        "the lead's website or business email, or with its name, or creates "
                        "it (or links `company_id`); with `create_deal: true`, creates a deal "
                        "(`pipeline_id`, `stage_id`, `deal_name`, `amount`, `currency`, "
                        "`expected_close_date`) with the contact on it; moves the lead's "
                        "activities to the contact; marks the lead converted. 409 if it was "
                        "converted already, is disqualified, or its email or domain belongs "
                        "to a contact or company you cannot see.")
def convert_lead(request, lead_id: int, payload: LeadConvertIn):
    def produce():
        result = services.lead_convert(actor=request.auth, lead_id=lead_id,
                                       expected_version=expected_version(request),
                                       **_sent(payload))
        lead = selectors.lead_detail(user=request.auth, lead_id=lead_id, any_owner=True)
        return JsonResponse({
            "lead": LeadOut.from_orm(lead).model_dump(mode="json"),
            "contact_id": result.contact.pk, "contact_created": result.contact_created,
            "company_id": result.company.pk if result.company else None,
            "company_created": result.company_created,
            "deal_id": result.deal.pk if result.deal else None,
            "activities_moved": result.activities_moved})
    return idempotent(request, produce)


# Assignment rules -------------------------------------------------------------------------

def _rules() -> JsonResponse:
    return JsonResponse({"items": [AssignmentRuleOut.from_orm(r).model_dump(mode="json")
                                   for r in selectors.assignment_rule_list()],
                         "next_cursor": None})


def _rule_response(rule_id: int, status: int = 200):
    rule = selectors.assignment_rule_get(rule_id=rule_id)
    if rule is None:
        raise NotFound()
    return record_response(rule, AssignmentRuleOut, status)


@assignment_rules.get("", response={200: AssignmentRulePage, **ERRORS},
                      description="Every rule in the order they are tried (one page).")
def list_assignment_rules(request):
    return _rules()


@assignment_rules.post("", response={201: AssignmentRuleOut, **ERRORS},
                       description="Admins. `conditions`: a list of `{field, op, value}` "
                                   "(`match`: `all` or `any`); `action`: `user` (with "
                                   "`user_id`), `round_robin` or `least_loaded` (with "
                                   "`team_id`). Last in the order unless `position` (0 first).")
def create_assignment_rule(request, payload: AssignmentRuleIn):
    def produce():
        rule = services.assignment_rule_create(actor=request.auth, data=_sent(payload))
        return _rule_response(rule.pk, 201)
    return idempotent(request, produce)


@assignment_rules.post("/reorder", response={200: AssignmentRulePage, **ERRORS},
                       description="Admins. `rule_ids`: every rule once, in the new order.")
def reorder_assignment_rules(request, payload: AssignmentRuleOrderIn):
    services.assignment_rules_reorder(actor=request.auth, rule_ids=payload.rule_ids)
    return _rules()


@assignment_rules.get("/{int:assignment_rule_id}", response={200: AssignmentRuleOut, **ERRORS})
def get_assignment_rule(request, assignment_rule_id: int):
    return _rule_response(assignment_rule_id)


@assignment_rules.patch("/{int:assignment_rule_id}", response={200: AssignmentRuleOut, **ERRORS},
                        description="Admins. Only the fields sent change; `position` moves the "
                                    "rule (0 first). `If-Match: <version>` guards against lost "
                                    "updates.")
def update_assignment_rule(request, assignment_rule_id: int, payload: AssignmentRuleIn):
    services.assignment_rule_update(actor=request.auth, rule_id=assignment_rule_id,
                                    data=_sent(payload), expected_version=expected_version(request))
    return _rule_response(assignment_rule_id)


@assignment_rules.delete("/{int:assignment_rule_id}", response={204: None, **ERRORS},
                         description="Admins.")
def delete_assignment_rule(request, assignment_rule_id: int):
    services.assignment_rule_delete(actor=request.auth, rule_id=assignment_rule_id)
    return HttpResponse(status=204)


# Settings ---------------------------------------------------------------------------------

@lead_settings.get("", response={200: LeadSettingsOut, **ERRORS},
                   description="`fallback_owner_id`: who gets a lead no assignment rule takes "
                               "(null: whoever created it).")
def get_lead_settings(request):
    return selectors.lead_settings()


@lead_settings.patch("", response={200: LeadSettingsOut, **ERRORS}, description="Admins.")
def update_lead_settings(request, payload: LeadSettingsIn):
    return services.lead_settings_update(actor=request.auth, data=_sent(payload))
