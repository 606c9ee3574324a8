"""Automation rules over the API (admins only): build, switch on, dry-run, read the run log."""

from ninja import Router, Status

from rapport.api.schemas import ERRORS
from rapport.core.errors import NotFound
from rapport.core.permissions import require_admin
from rapport.workflows import selectors, services, spec
from rapport.workflows.schemas import RuleIn, RuleOut, RuleTestIn, RunOut

router = Router(tags=["automation"])


def _rule(request, rule_id: int):
    require_admin(request.auth, services.ADMIN_ONLY)
    rule = selectors.rule_get(rule_id=rule_id)
    if rule is None:
        raise NotFound()
    return rule


@router.get("", response={200: list[RuleOut], **ERRORS})
def list_rules(request):
    require_admin(request.auth, services.ADMIN_ONLY)
    return list(selectors.rule_list())


@router.post("", response={201: RuleOut, **ERRORS},
             description=f"A rule: `object_type` ({', '.join(spec.OBJECT_TYPES)}), `trigger`, "
                         "`conditions`, `actions` (see the API guide). Created switched off "
                         "unless `is_active` is true; switching on is refused if rules would "
                         "loop.")
def create_rule(request, payload: RuleIn):
    return Status(201, services.rule_create(actor=request.auth,
                                            data=payload.model_dump(exclude_unset=True)))


@router.get("/{int:rule_id}", response={200: RuleOut, **ERRORS})
def get_rule(request, rule_id: int):
    return _rule(request, rule_id)


@router.patch("/{int:rule_id}", response={200: RuleOut, **ERRORS})
def update_rule(request, rule_id: int, payload: RuleIn):
    return services.rule_update(actor=request.auth, rule_id=rule_id,
                                data=payload.model_dump(exclude_unset=True))


@router.delete("/{int:rule_id}", response={204: None, **ERRORS})
def delete_rule(request, rule_id: int):
    services.rule_delete(actor=request.auth, rule_id=rule_id)
    return Status(204, None)


@router.post("/{int:rule_id}/test", response={200: RunOut, **ERRORS},
             description="A dry run on one record: every step runs and is logged, then every "
                         "write is rolled back. Waits are skipped.")
def test_rule(request, rule_id: int, payload: RuleTestIn):
    return services.rule_test(actor=request.auth, rule_id=rule_id, object_id=payload.object_id)


@router.get("/{int:rule_id}/runs", response={200: list[RunOut], **ERRORS},
            description="The 50 newest runs, each step with its outcome.")
def list_runs(request, rule_id: int):
    return selectors.run_log(rule=_rule(request, rule_id))
