"""Children we own: started in their own process group, stopped group-wide, escalating.

Every child (`spawn`) runs in its own session, so its process group holds it and
everything it starts (vLLM's engine core and workers, a server script's background jobs)
and nothing else. `stop_group` signals that whole group, escalating SIGINT → SIGTERM →
SIGKILL, until no live member is left: the leader exiting first does not end the stop
(a script's `&` job starts with SIGINT ignored and may ignore SIGTERM too). Members that
have exited but are not yet reaped (zombies) do not count: they hold nothing and go once
their parent or init reaps them.

vlm-bench killed by SIGKILL runs no teardown. The direct child gets SIGTERM from the
kernel (PR_SET_PDEATHSIG), but its descendants do not, so each spawned group also gets a
watchdog: `python -m bench.proc watchdog PGID`, a tiny process in a session of its own
(not in the group it guards, so the stop does not hit it, nor a terminal's Ctrl-C) whose
stdin is the read end of a pipe that only vlm-bench holds open. EOF on it means vlm-bench
closed it (after stopping the group) or died: then the watchdog sends the group SIGTERM,
after a grace SIGKILL, and exits. It also exits on its own once the group is empty, so it
never outlives its job.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any, Protocol

logger = logging.getLogger(__name__)

GENTLE = ((signal.SIGINT, 10.0), (signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0))
FIRM = ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0))
WATCHDOG_STEPS = ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0))
POLL_S = 0.05
LEFTOVER_GRACE_S = 3.0
REAP_GRACE_S = 2.0  # see stop_group's finally


class Child(Protocol):
    """What stopping a child needs of it: `subprocess.Popen`, or a forked level's handle
    (bench/load/zygote.py's `Forked`)."""

    pid: int
    returncode: int | None

    def poll(self) -> int | None: ...
    def wait(self, timeout: float | None = None) -> int: ...


# child pid → (its watchdog, the write end of the watchdog's pipe)
_watchdogs: dict[int, tuple[subprocess.Popen[bytes], int]] = {}


def group_members(pgid: int) -> list[int] | None:
    """Live (not zombie) members of process group `pgid`, from /proc; None where there is
    no /proc to read."""
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    members = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # comm (field 2) may hold spaces and parentheses: split after the last ')'.
            state, _ppid, pgrp = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, ValueError, IndexError):
            continue  # exited while we looked
        if int(pgrp) == pgid and state != "Z":
            members.append(int(entry.name))
    return members


def group_alive(pgid: int) -> bool:
    """Whether any member of the group is alive (zombies do not count)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    members = group_members(pgid)
    return members is None or bool(members)


def _wait_empty(pgid: int, seconds: float, leader_gone: Callable[[], bool] = lambda: False) -> bool:
    """Wait up to `seconds` for the group to have no live member. `leader_gone` runs each
    poll (reaping the leader, our child, so it does not linger as a zombie); once it is
    true, what is left gets at most LEFTOVER_GRACE_S: the server itself has gone, and
    members that outlive it are usually ignoring this signal."""
    deadline = time.monotonic() + seconds
    while True:
        if leader_gone():
            deadline = min(deadline, time.monotonic() + LEFTOVER_GRACE_S)
        if not group_alive(pgid):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_S)


def stop_group(proc: Child, steps: Sequence[tuple[int, float]] = FIRM) -> None:
    """Send each signal to the child's process group in turn, until the group is empty.

    The child must have been started by `spawn` (its own group, its pid the group id), so
    the signals reach everything it started and nothing else. Escalation goes on after
    the leader has exited, as long as any member lives; the waits are bounded by `steps`.
    """
    pgid = proc.pid
    try:
        for sig, wait in steps:
            proc.poll()
            if not group_alive(pgid):
                return
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                return
            if _wait_empty(pgid, wait, lambda: proc.poll() is not None):
                return
    finally:
        # The group can look empty while the leader is still being torn down: a dying
        # multi-threaded leader shows as a zombie in /proc before its last thread has
        # exited, and cannot be reaped until then. Give it a moment to become reapable.
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=REAP_GRACE_S)
        _release_watchdog(pgid)


def die_with_parent() -> None:  # pragma: no cover - runs in a child
    """On Linux, SIGTERM this process when the process that started it dies, even by
    SIGKILL (PR_SET_PDEATHSIG); elsewhere nothing."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _prepare_child() -> None:  # pragma: no cover - runs in the child before exec
    """Make SIGINT work in the child (a background shell starts jobs with it ignored, and
    teardown begins with SIGINT), and SIGTERM it when vlm-bench dies."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    die_with_parent()


def spawn(
    argv: list[str], log: IO[bytes], env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start a child we own, output to `log`: in its own process group (so teardown reaches
    everything it starts), and on Linux stopped, its whole group with it, if vlm-bench
    itself is killed (PR_SET_PDEATHSIG and the group's watchdog)."""
    return _owned(argv, env, cwd, stdout=log, stderr=subprocess.STDOUT)


def spawn_piped(argv: list[str], log: IO[bytes], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """`spawn`, with pipes to the child's stdin and from its stdout (a conversation,
    bench/load/zygote.py); its stderr goes to `log`."""
    return _owned(argv, env, None, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log)


def _owned(
    argv: list[str], env: dict[str, str] | None, cwd: Path | None, **streams: Any
) -> subprocess.Popen[bytes]:
    """The child in a session of its own, prepared (`_prepare_child`), and watched."""
    child = subprocess.Popen(
        argv, env=env, cwd=cwd, start_new_session=True, preexec_fn=_prepare_child, **streams
    )
    watch_group(child.pid)
    return child


def watch_group(pgid: int) -> None:
    """The watchdog of group `pgid` (module docstring). Without one (it could not start)
    the group still has the normal stop and the leader its PR_SET_PDEATHSIG."""
    read_end, write_end = os.pipe()  # not inheritable: no other child holds the write end
    try:
        watchdog = subprocess.Popen(
            [sys.executable, "-m", "bench.proc", "watchdog", str(pgid)],
            stdin=read_end,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError as exc:
        os.close(write_end)
        logger.warning("no watchdog for process group %d: %s", pgid, exc)
        return
    finally:
        os.close(read_end)
    _watchdogs[pgid] = (watchdog, write_end)


def _release_watchdog(pgid: int) -> None:
    """Tell the group's watchdog that vlm-bench is done with the group: it exits once the
    group is empty (at once after a complete stop)."""
    entry = _watchdogs.pop(pgid, None)
    if entry is None:
        return
    watchdog, write_end = entry
    os.close(write_end)
    # A watchdog still stopping an unkillable member ends on its own, reparented to init.
    with contextlib.suppress(subprocess.TimeoutExpired):
        watchdog.wait(1.0)


def _watchdog_main(pgid: int) -> int:
    """`python -m bench.proc watchdog PGID`: wait for EOF on stdin, or for the group to
    empty; after EOF stop what is left of the group."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while group_alive(pgid):
        ready, _, _ = select.select([0], [], [], 1.0)
        if ready and not os.read(0, 1):
            break  # vlm-bench has closed the pipe or died
    for sig, wait in WATCHDOG_STEPS:
        if not group_alive(pgid):
            return 0
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return 0
        _wait_empty(pgid, wait)
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "watchdog" and sys.argv[2].isdigit():
        sys.exit(_watchdog_main(int(sys.argv[2])))
    sys.exit("usage: python -m bench.proc watchdog PGID")
