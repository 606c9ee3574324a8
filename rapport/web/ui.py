"""Helpers the web views share: the list-table component, form error mapping, redirects."""

from dataclasses import dataclass, field

from django.http import QueryDict
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from rapport.core import selectors as core_selectors
from rapport.core.errors import BadRequest, RapportError
from rapport.core.listing import PROBLEM, Page

# Query parameters that are not filters: they never make a list "filtered".
NOT_FILTERS = {"sort", "cursor", "count", "limit", "view"}
PAGE_SIZE = "50"


@dataclass
class Column:
    label: str
    sort: str = ""  # the sort field name, when the column is sortable
    css: str = ""


@dataclass
class Filter:
    name: str
    label: str
    kind: str = "text"  # text | select
    options: list = field(default_factory=list)  # [(value, label)]
    value: str = ""


def query_with(params: QueryDict, **changes) -> str:
    """`params` as a query string with `changes` applied (None removes a key)."""
    copy = params.copy()
    for key, value in changes.items():
        if value is None:
            copy.pop(key, None)
        else:
            copy[key] = value
    encoded = copy.urlencode()
    return f"?{encoded}" if encoded else "?"


def list_context(request, *, object_type: str, selector, spec, columns: list[Column],
                 filters: list[Filter], row_template: str, noun: str, noun_plural: str,
                 create_url: str, bulk_url: str, view_save_url: str, owners) -> dict:
    """Everything list_table.html needs: rows, sort links, filters, count, cursor, saved views."""
    params = request.GET.copy()
    params["count"] = "true"
    params.setdefault("limit", PAGE_SIZE)
    error = None
    try:
        page = selector(user=request.user, params=params)
    except BadRequest as exc:
        error = _bad_request_text(exc)
        page = Page(items=[], next_cursor=None)

    current_sort = request.GET.get("sort") or spec.default_sort
    base = request.GET.copy()
    base.pop("cursor", None)
    headers = []
    for column in columns:
        header = {"label": column.label, "css": column.css, "url": "", "state": ""}
        if column.sort:
            if current_sort == column.sort:
                header["state"], target = "ascending", f"-{column.sort}"
            elif current_sort == f"-{column.sort}":
                header["state"], target = "descending", column.sort
            else:
                target = column.sort
            header["url"] = query_with(base, sort=target)
        headers.append(header)

    for flt in filters:
        flt.value = request.GET.get(flt.name, "")
    filtered = any(v for k, v in request.GET.items() if k not in NOT_FILTERS)
    return {
        "object_type": object_type,
        "page": page,
        "items": page.items,
        "headers": headers,
        "filters": filters,
        "row_template": row_template,
        "noun": noun,
        "noun_plural": noun_plural,
        "create_url": create_url,
        "bulk_url": bulk_url,
        "view_save_url": view_save_url,
        "list_error": error,
        "filtered": filtered,
        "is_paged": bool(request.GET.get("cursor")),
        "current_sort": current_sort,
        "next_url": query_with(request.GET.copy(), cursor=page.next_cursor)
        if page.next_cursor else "",
        "first_url": query_with(request.GET.copy(), cursor=None),
        "clear_url": "?" + (f"sort={request.GET['sort']}" if request.GET.get("sort") else ""),
        "current_query": _saved_query(request.GET),
        "saved_views": list(core_selectors.saved_view_list(user=request.user,
                                                           object_type=object_type)),
        "owners": owners,
        "active_problems": _active_problems(request.GET),
    }


def _active_problems(params: QueryDict) -> list[dict]:
    """The list's `problem=` filters as chips, each with the link that drops it alone.

    The filter bar has no input for them, so its form carries them as hidden fields; without
    that, applying another filter would silently widen the list.
    """
    names = [name for name in params.getlist(PROBLEM) if name]
    chips = []
    for name in names:
        remaining = params.copy()
        remaining.setlist(PROBLEM, [other for other in names if other != name])
        remaining.pop("cursor", None)
        chips.append({"name": name, "label": name.replace("_", " ").capitalize(),
                      "remove_url": "?" + remaining.urlencode()})
    return chips


def _saved_query(params: QueryDict) -> str:
    copy = params.copy()
    for key in ("cursor", "count", "limit"):
        copy.pop(key, None)
    return copy.urlencode()


def _bad_request_text(exc: BadRequest) -> str:
    details = "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in exc.fields.items())
    if exc.message and exc.message != exc.default_message():
        return f"{exc.message}" + (f" ({details})" if details else "")
    return details or exc.message


def apply_errors(form, exc: RapportError) -> None:
    """Put a service's field errors next to the form's inputs (custom_fields.x → cf_x)."""
    if not exc.fields:
        form.add_error(None, exc.message)
        return
    for key, messages in exc.fields.items():
        name = key
        if key.startswith("custom_fields."):
            name = "cf_" + key.split(".", 1)[1]
        for message in messages:
            if name in form.fields:
                form.add_error(name, message)
            else:
                form.add_error(None, message if key == "__all__" else f"{key}: {message}")


def safe_next(request, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return fallback if fallback.startswith("/") else reverse(fallback)


def split_list(value: str) -> list[str]:
    return [part.strip() for part in (value or "").replace(";", ",").split(",") if part.strip()]


RECORD_PAGES = {"contact": "contacts:detail", "company": "companies:detail",
                "deal": "deals:detail", "lead": "leads:detail"}


def record_page(object_type: str, pk: int) -> str:
    """The URL of a contact's, company's, deal's or lead's own page."""
    return reverse(RECORD_PAGES[object_type], args=[pk])
