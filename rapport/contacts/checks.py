"""Start-up checks: a relation that a merge could not move stops `rapport init` with a reason,
instead of the first merge of such a record failing."""

from django.core.checks import Error, register

from rapport.contacts.merging import MERGEABLE, moved_relations


@register()
def merge_relations(app_configs, **kwargs):
    errors = []
    for model, _ in MERGEABLE.values():
        try:
            moved_relations(model)
        except TypeError as exc:
            errors.append(Error(str(exc), id="rapport.E201"))
    return errors
