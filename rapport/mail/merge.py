"""Merge fields in email templates: Django's template language, fenced in.

A template may use the fields in MERGE_FIELDS, the filters in FILTERS and the
if/elif/else tag; anything else is refused when the template is checked, so a typo
is caught on saving rather than found as a blank in a customer's inbox. Templates
render against plain dictionaries of text, never against records, so no template
can reach a method or a relation that the list does not name.
"""

from functools import lru_cache

from django.template import Context, Engine, Template, TemplateSyntaxError
from django.template.base import FilterExpression, TextNode, Variable, VariableNode
from django.template.defaulttags import IfNode

MERGE_FIELDS = {
    "contact": ("first_name", "last_name", "full_name", "email", "phone", "title",
                "lifecycle_stage", "city", "country"),
    "company": ("name", "domain", "website", "industry", "phone", "city", "country"),
    "sender": ("full_name", "first_name", "email"),
    "deal": ("name", "amount", "currency", "stage", "next_step", "expected_close_date"),
    # Sent to a lead, contact.* holds the lead's person too (and company.* its company name and
    # website), so one template serves both; lead.* is empty when sent to anyone else.
    "lead": ("first_name", "last_name", "full_name", "email", "phone", "title", "company_name",
             "website", "country"),
}
FILTERS = frozenset({
    "default", "default_if_none", "upper", "lower", "title", "capfirst", "truncatechars",
    "truncatewords", "date", "yesno", "length",
})

ENGINE = Engine(
    builtins=["django.template.defaulttags", "django.template.defaultfilters"],
    libraries={}, string_if_invalid="",
)


class MergeError(ValueError):
    """A template that does not parse or uses something outside the fences."""


@lru_cache(maxsize=256)
def compile_template(source: str) -> Template:
    try:
        template = Template(source, engine=ENGINE)
    except TemplateSyntaxError as exc:
        reason = str(exc).splitlines()[0].split(" Must be one of")[0]
        raise MergeError(f"The template does not parse: {reason}") from None
    for node in _nodes(template.nodelist):
        if isinstance(node, TextNode) and ("{{" in node.s or "{%" in node.s):
            raise MergeError("A “{{” or “{%” is never closed; close it with “}}” or “%}”.")
        if isinstance(node, VariableNode):
            _check_expression(node.filter_expression)
        elif isinstance(node, IfNode):
            for condition, _ in node.conditions_nodelists:
                for expression in _condition_expressions(condition):
                    _check_expression(expression)
        elif not isinstance(node, TextNode):
            tag = getattr(node, "token", None)
            shown = tag.contents.split()[0] if tag else type(node).__name__
            raise MergeError(f"The tag “{{% {shown} %}}” cannot be used in an email template; "
                             "use merge fields and {% if %}.")
    return template


def check(source: str) -> str:
    """The source if it is a usable template, else MergeError naming the problem."""
    compile_template(source)
    return source


def render(source: str, context: dict, *, html: bool) -> str:
    return compile_template(source).render(Context(context, autoescape=html))


def field_list() -> list[str]:
    return [f"{group}.{name}" for group, names in MERGE_FIELDS.items() for name in names]


def _nodes(nodelist):
    for node in nodelist:
        yield node
        for attr in getattr(node, "child_nodelists", ()):
            yield from _nodes(getattr(node, attr, None) or [])
        if isinstance(node, IfNode):
            for _, branch in node.conditions_nodelists:
                yield from _nodes(branch)


def _condition_expressions(condition):
    """Every FilterExpression in an {% if %} condition tree (operators nest first/second)."""
    if condition is None:
        return
    value = getattr(condition, "value", None)
    if isinstance(value, FilterExpression):
        yield value
    for side in ("first", "second"):
        yield from _condition_expressions(getattr(condition, side, None))


def _check_expression(expression: FilterExpression) -> None:
    _check_variable(expression.var)
    for func, args in expression.filters:
        name = getattr(func, "_filter_name", func.__name__)
        if name not in FILTERS:
            raise MergeError(f"The filter “{name}” cannot be used in an email template. "
                             f"Use one of: {', '.join(sorted(FILTERS))}.")
        for _, arg in args:
            _check_variable(arg)


def _check_variable(var) -> None:
    if not isinstance(var, Variable) or var.lookups is None:
        return  # a literal: "there", 3
    group, *rest = var.lookups
    if group not in MERGE_FIELDS:
        raise MergeError(f"Unknown merge field “{'.'.join(var.lookups)}”: fields start with "
                         f"{', '.join(MERGE_FIELDS)}.")
    if len(rest) != 1 or rest[0] not in MERGE_FIELDS[group]:
        raise MergeError(f"Unknown merge field “{'.'.join(var.lookups)}”. The {group} fields are: "
                         f"{', '.join(MERGE_FIELDS[group])}.")
