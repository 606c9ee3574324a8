"""Where the current write comes from (ui, api, import, job...), for history and events."""

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
