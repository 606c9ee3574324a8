"""Template filters for the sales pages: money and time spent."""

from decimal import Decimal, InvalidOperation

from django import template

register = template.Library()

# Currencies shown with a symbol; every other code is written out ("CHF 1,200").
SYMBOLS = {
    "USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CNY": "CN¥", "INR": "₹", "AUD": "A$",
    "CAD": "CA$", "NZD": "NZ$", "HKD": "HK$", "SGD": "S$", "MXN": "MX$", "BRL": "R$",
    "KRW": "₩", "ILS": "₪", "TRY": "₺", "NGN": "₦", "PHP": "₱", "VND": "₫", "UAH": "₴",
}


@register.filter
def money(amount, currency: str = "") -> str:
    """1250.5, "EUR" → "€1,250.50"; whole amounts without cents: "$12,000"."""
    try:
        value = Decimal(str(amount))
    except (InvalidOperation, TypeError, ValueError):
        return ""
    number = f"{value:,.0f}" if value == value.to_integral_value() else f"{value:,.2f}"
    symbol = SYMBOLS.get(currency or "")
    if symbol:
        return f"{symbol}{number}"
    return f"{currency} {number}" if currency else number


@register.filter
def duration(seconds) -> str:
    """Seconds as the two largest units: "3 days 4 h", "5 h 12 min", "under a minute"."""
    try:
        seconds = int(seconds)
    except (TypeError, ValueError):
        return ""
    days, rest = divmod(max(seconds, 0), 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        text = f"{days} day{'s' if days != 1 else ''}"
        return f"{text} {hours} h" if hours else text
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min" if minutes else "under a minute"
