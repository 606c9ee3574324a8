"""A file's rows, read and cleaned in batches: in this process, or in a forked one beside
the writer.

Cleaning a row (parsing its phone number, checking its email, tidying its names) costs
about as much Python as writing it, and the writer waits on the database part of the
time. On a machine with a second core a big file is cleaned in a child process while
this one matches and writes, which nearly halves an import's time. The child reads no
database: the settings it cleans with (cleaners, custom field definitions, owners) are
built before the fork. It sends pickled batches through a pipe whose small buffer keeps
it at most a batch or so ahead, so memory stays flat however big the file.
"""

import contextlib
import itertools
import logging
import os
import pickle
import signal
import traceback
from collections.abc import Iterator

from django.db import connections

from rapport.transfer.plan import RowPlan, Settings, clean_batch
from rapport.transfer.readers import open_table

logger = logging.getLogger(__name__)

# Below this many rows a second process is not worth its start.
PARALLEL_FROM = 5_000


class CleaningFailed(Exception):
    """The cleaning process stopped on an error (its last line; the traceback is logged)."""


def cleaned_batches(settings: Settings, path: str, *, filename: str, after_row: int,
                    batch_size: int, rows_left: int) -> Iterator[list[RowPlan]]:
    """The file's rows after `after_row`, cleaned, `batch_size` at a time."""
    if rows_left >= PARALLEL_FROM and (os.cpu_count() or 1) > 1 and hasattr(os, "fork"):
        yield from _in_child(settings, path, filename, after_row, batch_size)
    else:
        yield from _batches(settings, path, filename, after_row, batch_size)


def _batches(settings, path, filename, after_row, batch_size) -> Iterator[list[RowPlan]]:
    rows = (row for row in open_table(path, filename=filename).rows() if row.number > after_row)
    while chunk := list(itertools.islice(rows, batch_size)):
        yield clean_batch(settings, chunk)


def _in_child(settings, path, filename, after_row, batch_size) -> Iterator[list[RowPlan]]:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        _child(write_end, settings, path, filename, after_row, batch_size)
    os.close(write_end)
    stream = os.fdopen(read_end, "rb")
    finished = False
    try:
        while True:
            try:
                # Our own child's pipe, never outside input.
                kind, payload = pickle.load(stream)  # noqa: S301
            except EOFError:
                raise CleaningFailed("The cleaning process ended without finishing.") from None
            if kind == "error":
                summary, details = payload
                logger.error("Cleaning an import's rows failed in the cleaning process:\n%s", details)
                raise CleaningFailed(summary)
            if kind == "done":
                finished = True
                return
            yield payload
    finally:
        # Closing the pipe ends a child still writing (its next write fails); then reap it.
        stream.close()
        if not finished:
            _stop(pid)
        _reap(pid)


def _child(write_end: int, settings, path, filename, after_row, batch_size) -> None:
    """The forked process: clean and send, then leave without running any of the parent's
    exit code (its database connection and files stay the parent's)."""
    code = 0
    # The parent's handlers (a worker's graceful SIGTERM) must not run here.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    _forget_connections()
    try:
        with os.fdopen(write_end, "wb") as out:
            try:
                for plans in _batches(settings, path, filename, after_row, batch_size):
                    pickle.dump(("plans", plans), out, protocol=pickle.HIGHEST_PROTOCOL)
                pickle.dump(("done", None), out)
            except BrokenPipeError:
                pass  # the parent stopped reading: it failed or lost its claim
            except BaseException:
                code = 1
                error = traceback.format_exc()
                pickle.dump(("error", (error.strip().splitlines()[-1], error)), out)
    except BrokenPipeError:
        pass
    finally:
        os._exit(code)


_inherited = []


def _forget_connections() -> None:
    """The parent's database connections are its own: using one here would interleave with
    its statements, and closing one would end its session. Keep them referenced (so nothing
    closes them) and let anything that does reach for the database open its own."""
    for connection in connections.all(initialized_only=True):
        _inherited.append(connection.connection)
        connection.connection = None


def _stop(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
