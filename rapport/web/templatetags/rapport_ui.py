from django import template

from rapport.core.normalise import format_phone
from rapport.web.ui import record_page

register = template.Library()


@register.filter
def phone(value):
    return format_phone(value)


@register.filter
def widget_type(bound_field) -> str:
    """The input type of a bound field's widget (checkbox, select, textarea...)."""
    widget = bound_field.field.widget
    if getattr(widget, "allow_multiple_selected", False) and widget.input_type == "checkbox":
        return "checkboxes"
    return getattr(widget, "input_type", "") or widget.__class__.__name__.lower()


@register.simple_tag
def record_url(object_type: str, pk: int) -> str:
    """`{% record_url "deal" 7 %}`: the page of a contact, company or deal."""
    return record_page(object_type, pk)
