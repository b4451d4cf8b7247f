"""One process per run directory: an advisory lock on `RUN_DIR/.lock`.

`run` and `run --resume` hold it from the moment they own the directory until they end;
a second one is refused (exit 2) with the holder's pid, host and start time, read from
the lock file. The lock is `flock`, which the kernel drops when its holder dies, so a run
killed by SIGKILL leaves at worst a stale file that the next run takes over. Readers
(report, compare, gate) never look at it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
from datetime import datetime
from pathlib import Path
from types import TracebackType

from bench.errors import UserError

LOCK_NAME = ".lock"


class RunLock:
    """Held while the run directory is being written; `release` (or the `with` block's
    end) unlocks and removes the file."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / LOCK_NAME
        self.fd: int | None = None
        self._acquire()

    def _acquire(self) -> None:
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise UserError(
                    f"{self.path}: cannot create the run lock: {exc.strerror}"
                ) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _describe(fd)
                os.close(fd)
                raise UserError(f"{self.path.parent}: in use by {holder}") from None
            # The holder before us may have removed the file between our open and our
            # flock: then we hold a lock on a deleted file, and must take the new one.
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        self.fd = fd
        record = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": datetime.now().astimezone().isoformat(timespec="seconds"),
        }
        try:
            os.ftruncate(fd, 0)
            os.write(fd, (json.dumps(record) + "\n").encode())
        except OSError:
            pass  # disk full: the lock holds all the same, only its description is missing

    def release(self) -> None:
        if self.fd is None:
            return
        # Unlink while still locked, so a waiting opener sees a new inode (see _acquire).
        with contextlib.suppress(OSError):
            self.path.unlink(missing_ok=True)
        os.close(self.fd)  # closing drops the flock
        self.fd = None

    def __enter__(self) -> RunLock:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


def _describe(fd: int) -> str:
    """'vlm-bench pid N on HOST (since T)' from the lock file, as far as it can be read."""
    try:
        data = json.loads(os.pread(fd, 4096, 0).decode())
        pid, host, since = int(data["pid"]), str(data["host"]), str(data["since"])
    except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError):
        return "another vlm-bench process"
    where = "" if host == socket.gethostname() else f" on {host}"
    return f"vlm-bench pid {pid}{where} (since {since})"
