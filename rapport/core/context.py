"""Where the current write comes from (ui, api, import, job...) and, when an automation rule
made it, which rule: both go into history and events."""

import contextlib
from contextvars import ContextVar

from rapport.core.choices import Source

_source: ContextVar[str] = ContextVar("rapport_write_source", default=Source.UI)


def current_source() -> str:
    return _source.get()


@contextlib.contextmanager
def write_source(source: str):
    token = _source.set(source)
    try:
        yield
    finally:
        _source.reset(token)


_cause: ContextVar[dict | None] = ContextVar("rapport_write_cause", default=None)


def current_cause() -> dict | None:
    """`{"rule_id", "run_id", "depth"}` while a workflow rule's actions write, else None."""
    return _cause.get()


@contextlib.contextmanager
def caused_by(**cause):
    token = _cause.set(cause)
    try:
        yield
    finally:
        _cause.reset(token)
