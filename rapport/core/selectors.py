from django.db.models import Count, Q

from rapport.core.models import CustomFieldDefinition, Event, SavedView, Tag


def one(queryset):
    """The row a primary-key filter matches, or None: `.first()` without its ORDER BY,
    which costs a detail read more to compile than the database takes to run it."""
    return next(iter(queryset), None)


def custom_field_list(*, object_type: str | None = None):
    qs = CustomFieldDefinition.objects.all()
    return qs.filter(object_type=object_type) if object_type else qs


def saved_view_list(*, user, object_type: str):
    return SavedView.objects.filter(user=user, object_type=object_type)


def tag_list():
    return Tag.objects.order_by("name")


def tag_usage(model, visible_queryset) -> list[dict]:
    """Tags with how many visible records of `model` carry each."""
    through = model.tags.through
    source = f"{model._meta.model_name}_id"
    return list(
        through.objects.filter(**{f"{source}__in": visible_queryset.values("id")})
        .values("tag__name", "tag__slug").annotate(count=Count("id")).order_by("-count")[:100]
    )


def event_list(*, patterns=(), since=None):
    """Events whose type matches any pattern: `contact.created`, `contact.*` or `*`."""
    qs = Event.objects.all()
    condition = Q()
    for pattern in patterns:
        if pattern in {"*", "*.*"}:
            condition = Q()
            break
        if pattern.endswith(".*"):
            condition |= Q(type__startswith=pattern[:-1])
        else:
            condition |= Q(type=pattern)
    qs = qs.filter(condition)
    if since:
        qs = qs.filter(created_at__gte=since)
    return qs
