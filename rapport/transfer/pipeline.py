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
import select
import signal
import traceback
from collections.abc import Iterator

from django.db import connections

from rapport.transfer.plan import RowPlan, Settings, clean_batch
from rapport.transfer.readers import open_table

logger = logging.getLogger(__name__)

# Below this many rows a second process is not worth its start.
PARALLEL_FROM = 5_000
# A cleaning process that sends nothing for this long is stuck (a batch takes a fraction of
# a second): a lock another thread of the parent held at the fork stays held in the child.
STALL_SECONDS = 60


class CleaningFailed(Exception):
    """Cleaning the rows raised an error (its last line; the traceback is logged)."""


class _ChildLost(Exception):
    """The cleaning process died (a signal, the OOM killer) or stopped answering."""


def cleaned_batches(settings: Settings, path: str, *, filename: str, after_row: int,
                    batch_size: int, rows_left: int) -> Iterator[list[RowPlan]]:
    """The file's rows after `after_row`, cleaned, `batch_size` at a time. If the cleaning
    process is lost, the rows it had not sent are cleaned here instead: the import slows
    down, it does not fail. With no rows left (a run resumed while indexing) the file is
    not read."""
    if rows_left <= 0:
        return
    if rows_left >= PARALLEL_FROM and _cores() > 1 and hasattr(os, "fork"):
        done = after_row
        try:
            for plans in _in_child(settings, path, filename, after_row, batch_size):
                yield plans
                done = plans[-1].number
            return
        except _ChildLost as exc:
            logger.warning("The import's cleaning process was lost (%s); cleaning goes on "
                           "in the writing process from row %s.", exc, done + 1)
            after_row = done
    yield from _batches(settings, path, filename, after_row, batch_size)


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _batches(settings, path, filename, after_row, batch_size) -> Iterator[list[RowPlan]]:
    rows = (row for row in open_table(path, filename=filename).rows() if row.number > after_row)
    while chunk := list(itertools.islice(rows, batch_size)):
        yield clean_batch(settings, chunk)


def _in_child(settings, path, filename, after_row, batch_size) -> Iterator[list[RowPlan]]:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_end)
            _child(write_end, settings, path, filename, after_row, batch_size)
        finally:
            os._exit(1)
    os.close(write_end)
    try:
        while True:
            kind, payload = _receive(read_end)
            if kind == "error":
                summary, details = payload
                logger.error("Cleaning an import's rows failed in the cleaning process:\n%s", details)
                raise CleaningFailed(summary)
            if kind == "done":
                return
            yield payload
    finally:
        # Closing the pipe ends a child still writing (its next write fails); then reap it.
        os.close(read_end)
        _stop(pid)
        _reap(pid)


def _send(out, message) -> None:
    frame = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    out.write(len(frame).to_bytes(8, "big"))
    out.write(frame)
    out.flush()


def _receive(fd: int):
    """The next message, read whole: a length, then that many bytes. Raises _ChildLost when
    the child closed the pipe early or sent nothing for STALL_SECONDS."""
    size = int.from_bytes(_read_exactly(fd, 8), "big")
    # Our own child's pipe, never outside input.
    return pickle.loads(_read_exactly(fd, size))  # noqa: S301


def _read_exactly(fd: int, size: int) -> bytes:
    parts, left = [], size
    while left:
        ready, _, _ = select.select([fd], [], [], STALL_SECONDS)
        if not ready:
            raise _ChildLost(f"nothing for {STALL_SECONDS} s")
        part = os.read(fd, min(left, 1 << 20))
        if not part:
            raise _ChildLost("it ended without finishing")
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def _child(write_end: int, settings, path, filename, after_row, batch_size) -> None:
    """The forked process: clean and send, then leave without running any of the parent's
    exit code (its database connection and files stay the parent's)."""
    code = 0
    # The parent's handlers (a worker's graceful SIGTERM) must not run here, and Ctrl-C in
    # a terminal is the parent's to handle: it stops the child when it stops reading.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _forget_connections()
    try:
        with os.fdopen(write_end, "wb") as out:
            try:
                for plans in _batches(settings, path, filename, after_row, batch_size):
                    _send(out, ("plans", plans))
                _send(out, ("done", None))
            except BrokenPipeError:
                pass  # the parent stopped reading: it failed or lost its claim
            except BaseException:
                code = 1
                error = traceback.format_exc()
                _send(out, ("error", (error.strip().splitlines()[-1], error)))
    except BrokenPipeError:
        pass
    finally:
        os._exit(code)


_inherited = []


def _forget_connections() -> None:
    """The forking thread's database connections are the parent's: using one here would
    interleave with its statements, and closing one would end its session. Keep them
    referenced (so nothing closes them) and let anything that does reach for the database
    open its own. (The child runs only the forking thread, so no other thread's
    connection can be used here.)"""
    for connection in connections.all(initialized_only=True):
        _inherited.append(connection.connection)
        connection.connection = None


def _stop(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
