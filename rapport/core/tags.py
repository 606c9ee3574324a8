"""Tags: shared by every taggable record, matched case-insensitively by slug."""

from django.utils.text import slugify

from rapport.core.errors import ValidationFailed
from rapport.core.models import Tag

MAX_TAGS = 50


def clean_tag_names(names) -> list[str]:
    if names is None:
        return []
    if isinstance(names, str):
        names = [n for n in names.split(",")]
    if not isinstance(names, list | tuple):
        raise ValidationFailed(fields={"tags": ["Enter a list of tag names."]})
    cleaned, seen = [], set()
    for name in names:
        if not isinstance(name, str):
            raise ValidationFailed(fields={"tags": ["Each tag must be text."]})
        name = " ".join(name.split())
        if not name:
            continue
        if len(name) > 64 or not slugify(name):
            raise ValidationFailed(fields={"tags": [f"“{name[:64]}” is not a valid tag name."]})
        if slugify(name) not in seen:
            seen.add(slugify(name))
            cleaned.append(name)
    if len(cleaned) > MAX_TAGS:
        raise ValidationFailed(fields={"tags": [f"Use at most {MAX_TAGS} tags."]})
    return cleaned


def get_or_create_tags(names: list[str]) -> list[Tag]:
    tags = []
    for name in clean_tag_names(names):
        tag, _ = Tag.objects.get_or_create(slug=slugify(name), defaults={"name": name})
        tags.append(tag)
    return tags


def set_tags(instance, names: list[str]) -> None:
    instance.tags.set(get_or_create_tags(names))


def add_tags(instance, names: list[str]) -> None:
    instance.tags.add(*get_or_create_tags(names))
