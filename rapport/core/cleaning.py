"""Field-by-field cleaning of outside input for the services.

A service declares `{field: cleaner}`; each cleaner takes the raw value and
returns the value to store or raises ValueError with a message for that field.
Every problem is collected, so one response names every bad field.
"""

from collections.abc import Callable

from rapport.core.errors import ValidationFailed

Cleaner = Callable[[object], object]


def clean_fields(cleaners: dict[str, Cleaner], data: dict, *, required=(),
                 extra_ok=()) -> dict:
    if not isinstance(data, dict):
        raise ValidationFailed("Send an object of fields.", fields={"__all__": ["Not an object."]})
    errors: dict[str, list[str]] = {}
    cleaned = {}
    for name, value in data.items():
        if name in extra_ok:
            continue
        cleaner = cleaners.get(name)
        if cleaner is None:
            errors[name] = ["Unknown field."]
            continue
        try:
            cleaned[name] = cleaner(value)
        except ValueError as exc:
            errors[name] = [str(exc)]
    for name in required:
        if name not in errors and not cleaned.get(name):
            errors[name] = ["This field is required."]
    if errors:
        raise ValidationFailed(fields=errors)
    return cleaned


def text(max_length: int, *, multiline: bool = False) -> Cleaner:
    def clean(value):
        if value is None:
            return ""
        if not isinstance(value, str):
            raise ValueError("Enter text.")
        if "\x00" in value:  # PostgreSQL refuses text holding NUL; nobody means to type one
            value = value.replace("\x00", "")
        value = value.strip() if multiline else " ".join(value.split())
        if len(value) > max_length:
            raise ValueError(f"Enter at most {max_length:,} characters (it has {len(value):,}).")
        return value
    return clean


def required_text(max_length: int, *, multiline: bool = False) -> Cleaner:
    """`text`, and not empty."""
    clean_text = text(max_length, multiline=multiline)

    def clean(value):
        value = clean_text(value)
        if not value:
            raise ValueError("This field is required.")
        return value
    return clean


def flag(value) -> bool:
    """A JSON boolean: "yes", 1 or "true" are not guessed at."""
    if not isinstance(value, bool):
        raise ValueError("Enter true or false.")
    return value


def position(value) -> int:
    """A place in an ordered list (a stage, a rule)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10_000:
        raise ValueError("Enter a position from 0.")
    return value


def choice(choices) -> Cleaner:
    values = list(choices.values)

    def clean(value):
        if value not in values:
            raise ValueError(f"Choose one of: {', '.join(values)}.")
        return value
    return clean


def optional_choice(choices) -> Cleaner:
    """A choice that may be left empty."""
    return lambda value: choice(choices)(value) if value else ""


def reference(queryset, label: str) -> Cleaner:
    """The id of a record in `queryset` (already scoped to the user), or None.

    A record outside the scope gets the same answer as one that does not exist.
    """
    def clean(value):
        if value in (None, ""):
            return None
        try:
            pk = int(value)
        except (TypeError, ValueError):
            raise ValueError(f"Enter a {label} id.") from None
        if not queryset.filter(pk=pk).exists():
            raise ValueError(f"No such {label}.")
        return pk
    return clean


def optional(normaliser: Callable[[str], str], max_length: int = 500) -> Cleaner:
    """Text run through a normaliser (email, phone, URL...); empty stays empty."""
    clean_text = text(max_length)

    def clean(value):
        value = clean_text(value)
        return normaliser(value) if value else ""
    return clean


def listed(normaliser: Callable[[str], str], *, max_items: int = 20) -> Cleaner:
    def clean(value):
        if value is None:
            return []
        if isinstance(value, str):
            value = [v for v in value.replace(";", ",").replace("\n", ",").split(",")]
        if not isinstance(value, list):
            raise ValueError("Enter a list.")
        if len(value) > max_items:
            raise ValueError(f"Enter at most {max_items} items.")
        result = []
        for item in value:
            if not isinstance(item, str):
                raise ValueError("Each item must be text.")
            if item.strip():
                normalised = normaliser(item.strip()[:500])
                if normalised not in result:
                    result.append(normalised)
        return result
    return clean
