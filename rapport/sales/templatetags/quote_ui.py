"""Template filters for quotes: quantities and percentages without trailing zeros."""

from decimal import Decimal, InvalidOperation

from django import template

register = template.Library()


@register.filter
def plain(value) -> str:
    """Decimal("2.500") → "2.5", Decimal("10.000") → "10"; thousands are not grouped."""
    try:
        number = Decimal(str(value))
    except (InvalidOperation, TypeError, ValueError):
        return ""
    return format(number.normalize(), "f") if number else "0"


@register.filter
def input_value(value) -> str:
    """A decimal as an input's value: plain, or empty for None."""
    return "" if value is None else plain(value)


@register.filter
def quote_money(amount, currency: str = "") -> str:
    """Always with cents, as a quote shows money: 1250, "EUR" → "€1,250.00"."""
    from rapport.sales.templatetags.sales_ui import SYMBOLS

    try:
        value = Decimal(str(amount))
    except (InvalidOperation, TypeError, ValueError):
        return ""
    number = f"{value:,.2f}"
    symbol = SYMBOLS.get(currency or "")
    if symbol:
        return f"{symbol}{number}"
    return f"{currency} {number}" if currency else number


@register.filter
def subtract(value, other):
    """Decimal("4099.97")|subtract:Decimal("360.00") → Decimal("3739.97")."""
    try:
        return Decimal(str(value)) - Decimal(str(other))
    except (InvalidOperation, TypeError, ValueError):
        return ""
