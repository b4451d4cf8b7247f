"""Names and output paths from the command line, made safe before anything is written.

A name (`baseline save --as NAME`, `import-table --name NAME`) becomes a folder under a
parent the user did not name, so it must stay one plain path component: `../../x` or
`/etc` would write outside that parent. Output folders that cannot be written (under a
file, read-only, disk full) are the user's to fix: one line naming the path, not a
traceback.

A multi-file output (the dashboard) is written into a temporary folder beside `--out` and
moved into place when complete (`replaced_folder`): a signal or an error leaves the
previous folder or nothing, never half of one that the next run takes for finished.

Files read as inputs (run.json, gate.md, published tables, plans, scenarios) go through
`read_regular`: only a regular file, and only up to a size limit. A FIFO named run.json
would block the open (or the read) for ever, a device or `/dev/zero` never ends, and a
10 GB file is not a result; each is one line naming the path instead.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import signal
import stat
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.errors import UserError

# One path component: no separator, no leading dot (no `..`, no hidden folder), no NUL,
# no shell or Windows specials; short enough for every file system.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def is_safe_name(text: str) -> bool:
    return bool(_NAME.fullmatch(text)) and ".." not in text


def safe_name(text: str, flag: str) -> str:
    """`text` when it is a safe folder name, else UserError naming `flag`."""
    if not is_safe_name(text):
        shown = repr(text) if len(text) <= 60 else repr(text[:57] + "...")
        raise UserError(
            f"{flag} {shown}: a name must be 1-100 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit (no '/', no '..')"
        )
    return text


@contextmanager
def writing(path: Path, flag: str = "--out") -> Iterator[None]:
    """Turn an OSError while writing under `path` into one UserError line."""
    try:
        yield
    except OSError as exc:
        where = exc.filename or path
        raise UserError(f"{flag} {path}: cannot write {where}: {exc.strerror or exc}") from None


KIB = 1024
MIB = 1024 * KIB

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _size(limit: int) -> str:
    return f"{limit // MIB} MiB" if limit >= 16 * MIB else f"{limit // KIB} KiB"


class UnreadableFile(UserError):
    """`read_regular`'s refusal: `reason` is what the file is or why it cannot be read
    ("a FIFO", "larger than 64 MiB"), for a caller that words the line its own way."""

    def __init__(self, path: Path, what: str, reason: str) -> None:
        super().__init__(f"{path}: cannot read {what}: {reason}")
        self.reason = reason


def _open(path: Path, what: str) -> int:
    """A read-only descriptor; O_NONBLOCK so that opening a FIFO cannot wait for a writer."""
    try:
        return os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except OSError as exc:
        why = "a symbolic link loop" if exc.errno == errno.ELOOP else exc.strerror or str(exc)
        raise UnreadableFile(path, what, why) from None
    except ValueError:  # a NUL in the path itself
        raise UnreadableFile(Path(repr(str(path))), what, "a NUL in the path") from None


def read_regular(path: Path, limit: int, what: str = "file") -> bytes:
    """The bytes of `path` when it is a regular file of at most `limit` bytes; otherwise
    UserError (UnreadableFile), one line naming the path and what it is (a FIFO, a folder,
    too large)."""
    fd = _open(path, what)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise UnreadableFile(path, what, f"{_kind(mode)} (only regular files are read)")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(limit + 1 - size, MIB))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise UnreadableFile(path, what, exc.strerror or str(exc)) from None
    finally:
        os.close(fd)
    if size > limit:
        raise UserError(f"{path}: larger than {_size(limit)}; not a {what}")
    return b"".join(chunks)


# ---- a folder replaced whole ------------------------------------------------------------


def _exit_on_signal(signum: int, _frame: object) -> None:
    """SIGTERM as an exception, so `finally` blocks remove what was half written."""
    raise SystemExit(128 + signum)


@contextmanager
def _terminate_unwinds() -> Iterator[None]:
    """While the block runs, SIGTERM unwinds the stack (SIGINT already does)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _swap(new: Path, out: Path) -> None:
    """`new` becomes `out`; the previous `out` is removed only after. Signals wait until the
    swap is done, so no moment leaves neither."""
    old = new.with_name(new.name + ".old")
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        if out.exists():
            os.rename(out, old)
        try:
            os.rename(new, out)
        except OSError:
            if old.exists():
                os.rename(old, out)
            raise
        shutil.rmtree(old, ignore_errors=True)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _umask_mode(mode: int) -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mode & ~mask


@contextmanager
def replaced_folder(out: Path, flag: str = "--out") -> Iterator[Path]:
    """A new empty folder beside `out` to write the whole output into; when the block ends
    without error it replaces `out` (the previous one kept until then). On an error,
    SIGINT or SIGTERM it is removed and `out` is untouched. OSErrors: one line (`writing`)."""
    with _terminate_unwinds():
        with writing(out, flag):
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
        try:
            with writing(out, flag):
                yield tmp
                os.chmod(tmp, _umask_mode(0o777))  # mkdtemp makes 0700; a site is shared
                _swap(tmp, out)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
