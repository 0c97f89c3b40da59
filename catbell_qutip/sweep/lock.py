"""One driver per store: a lock file holding the driver's pid and host.

The lock is ``STORE/_sweep/lock``, created exclusively (``O_CREAT | O_EXCL``) by the driver
before it reads the done flags and removed when it finishes, however it finishes short of
being killed. A second driver is refused while the lock is held. A lock whose process no
longer runs on this host (the driver was killed) is stale: it is taken over, with a note.
A lock from another host cannot be checked from here and is always refused.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from pathlib import Path

__all__ = ["StoreLock", "LOCK_NAME"]

#: the lock file, relative to the store
LOCK_NAME = "_sweep/lock"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:        # it exists, under another user
        return True
    return True


class StoreLock:
    """An exclusive lock on a sweep store (a context manager).

    Parameters
    ----------
    store : path
        The store directory (it must exist).
    note : callable
        Called with one line of text when a stale lock is taken over.

    Raises
    ------
    ValueError
        On :meth:`acquire` (entering the context): the store is locked by a running
        sweep (the message names its pid, host and start time), or the lock could not
        be taken after several attempts.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as d:
    ...     (pathlib.Path(d) / "_sweep").mkdir()
    ...     with StoreLock(d) as lock:
    ...         held = lock.held, lock.path.exists()
    ...         try:
    ...             StoreLock(d).acquire()      # a second driver is refused
    ...         except ValueError as exc:
    ...             refused = "is in use by another sweep" in str(exc)
    ...     held, refused, lock.path.exists()
    ((True, True), True, False)
    """

    def __init__(self, store, note=print):
        self.store = Path(store)
        self.path = self.store / LOCK_NAME
        self.note = note
        self.held = False

    def _holder(self) -> dict:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}

    def acquire(self) -> None:
        """Take the lock or raise ValueError naming its holder."""
        me = {"pid": os.getpid(), "host": socket.gethostname(),
              "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        for _ in range(5):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._holder()
                if not holder:           # being written right now: look again
                    time.sleep(0.1)
                    holder = self._holder()
                pid, host = holder.get("pid"), holder.get("host")
                # empty or torn after the wait (killed while writing it), or dead here
                stale = not holder or (host == me["host"] and isinstance(pid, int)
                                       and not _alive(pid))
                if not stale:
                    raise ValueError(
                        f"store {str(self.store)!r} is in use by another sweep (pid {pid} "
                        f"on host {host}, since {holder.get('since', '?')}); wait for it "
                        f"to finish, or, if no sweep is running there, delete "
                        f"{str(self.path)!r}") from None
                # stale: move it aside (only one of several racing drivers succeeds)
                aside = self.path.with_name(f"lock.stale-{uuid.uuid4().hex[:8]}")
                try:
                    os.rename(self.path, aside)
                except FileNotFoundError:
                    continue
                try:
                    moved = json.loads(aside.read_text())
                except (OSError, ValueError):
                    moved = {}
                if moved and moved != holder:   # a racing driver's fresh lock: put it back
                    os.rename(aside, self.path)
                    continue
                os.unlink(aside)
                self.note(f"took over a stale lock on {str(self.store)!r} (pid {pid} on "
                          f"this host is no longer running)")
                continue
            with os.fdopen(fd, "w") as fh:
                json.dump(me, fh)
            self.held = True
            return
        raise ValueError(f"store {str(self.store)!r}: could not take its lock "
                         f"{str(self.path)!r}; retry")

    def release(self) -> None:
        if self.held:
            self.held = False
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()
