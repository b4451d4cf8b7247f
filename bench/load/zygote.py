"""A warm parent for a run's client processes: imports once, forks a fresh child per level.

evalscope's imports cost more than most levels (measured here, docs/evalscope.md:
`import evalscope.perf.main` 2.5–3 s, the tokenizer's transformers another 1 s, of a 4-request
level's 4.9 s), and every level must still run in a process of its own (bench/load/evalscope.py
says why). So a run starts one zygote, `python -m bench.load.evalscope --zygote RUN_DIR`, which
does those imports, freezes its GC and waits; each level is a `fork()` of it: a new process,
its own session and process group, nothing of an earlier level in it, the imports already
done. Forking happens between levels, never while one is measured.

The protocol is JSON lines. vlm-bench writes a request to the zygote's stdin
({"args", "env", "cwd", "log"}); the zygote forks and answers {"pid": N}, and later
{"exit": N, "code": C} once it has reaped that child (C as `subprocess.Popen.returncode`:
negative for a signal). The child's output goes to `log`.

`Forked` is the parent's handle on such a child with the part of `subprocess.Popen`'s
interface that bench/proc.py's `stop_group` and the level's follower use (`pid`, `poll`,
`wait`, `returncode`); its group gets the same watchdog as a spawned child's. The zygote
itself is a spawned child (bench/proc.py): its own group, a watchdog, PR_SET_PDEATHSIG; each
forked child has PR_SET_PDEATHSIG to the zygote. Its argv names the run folder, and a forked
child shows the same command line, so a run's leftovers are found by the run folder as before.

A zygote that cannot start or has died is not an error: the caller spawns the level as a
plain child instead (`Zygote.fork` returns None).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import select
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from bench import proc

logger = logging.getLogger(__name__)

START_TIMEOUT_S = 120.0  # the imports: ~3 s here, far more on a loaded machine
REPLY_TIMEOUT_S = 30.0


class Forked:
    """A child the zygote forked: `subprocess.Popen`'s pid/poll/wait/returncode."""

    def __init__(self, pid: int, zygote: Zygote) -> None:
        self.pid, self._zygote = pid, zygote
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self._zygote.exit_code(self.pid, 0.0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            self.returncode = self._zygote.exit_code(self.pid, timeout)
        if self.returncode is None:
            raise subprocess.TimeoutExpired(["forked", str(self.pid)], timeout or 0.0)
        return self.returncode


class Zygote:
    """The parent side: the zygote process, its answers, its children's exit codes."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.argv, self.env = argv, env
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as fh:
            self.proc = proc.spawn_piped(argv, fh, env)
        self._replies: queue.Queue[dict[str, Any]] = queue.Queue()
        self._exits: dict[int, int] = {}
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, name="zygote-reader", daemon=True)
        self._reader.start()
        self._ready: bool | None = None  # not asked yet: the imports may still be running

    @property
    def ready(self) -> bool:
        """Whether the zygote has done its imports; the first call waits for them, so a
        zygote started early (`bench.load.evalscope.prewarm`) imports while the run
        starts its server."""
        if self._ready is None:
            self._ready = self._reply(START_TIMEOUT_S).get("ready") is True
        return self._ready

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if not isinstance(message, dict):
                continue
            if "exit" in message:
                with self._changed:
                    self._exits[int(message["exit"])] = int(message["code"])
                    self._changed.notify_all()
            else:
                self._replies.put(message)
        self._replies.put({})  # the zygote has gone: no more answers
        with self._changed:
            self._changed.notify_all()

    def _reply(self, timeout: float) -> dict[str, Any]:
        try:
            return self._replies.get(timeout=timeout)
        except queue.Empty:
            return {}

    def alive(self) -> bool:
        return self.ready and self.proc.poll() is None

    def fork(self, args: list[str], env: dict[str, str], cwd: Path, log: Path) -> Forked | None:
        """A child running `args` (the zygote's `run`), or None: the zygote is not there."""
        if not self.alive():
            return None
        request = {"args": args, "env": env, "cwd": str(cwd), "log": str(log)}
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write((json.dumps(request) + "\n").encode())
            self.proc.stdin.flush()
        except OSError:
            return None
        pid = self._reply(REPLY_TIMEOUT_S).get("pid")
        if not isinstance(pid, int):
            return None
        proc.watch_group(pid)
        return Forked(pid, self)

    def exit_code(self, pid: int, timeout: float | None) -> int | None:
        """`pid`'s exit code once the zygote has reaped it; None after `timeout` seconds.
        A child whose zygote died unreaped counts as ended once its group is empty."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            while pid not in self._exits:
                if self.proc.poll() is not None and not proc.group_alive(pid):
                    return self._exits.get(pid, -signal.SIGKILL)
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return None
                self._changed.wait(0.25 if left is None else min(left, 0.25))
            return self._exits[pid]

    def close(self) -> None:
        """Stop the zygote (its children are the callers' to stop, each its own group)."""
        with contextlib.suppress(OSError):
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        proc.stop_group(self.proc)


# --- the zygote process -------------------------------------------------------------


def serve(warm: Callable[[], None], run: Callable[[list[str]], None]) -> int:
    """The zygote's loop: `warm()` (the imports), then for each request on stdin fork a
    child that runs `run(args)`; report each child's pid and, once reaped, its exit code.
    Ends at EOF on stdin (vlm-bench closed it or died)."""
    warm()
    out = sys.stdout
    _send(out, {"ready": True})
    inbox = sys.stdin.buffer
    while True:
        _reap(out)
        ready, _, _ = select.select([inbox], [], [], 0.1)
        if not ready:
            continue
        line = inbox.readline()
        if not line:
            break
        request = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:
            _child(request, run, parent)  # never returns
        _send(out, {"pid": pid})
    return 0


def _send(out: IO[str], message: dict[str, Any]) -> None:
    out.write(json.dumps(message) + "\n")
    out.flush()


def _reap(out: IO[str]) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        _send(out, {"exit": pid, "code": os.waitstatus_to_exitcode(status)})


def _child(request: dict[str, Any], run: Callable[[list[str]], None], parent: int) -> None:
    """The forked child: a session of its own, the level's log on stdout and stderr, its
    environment and folder, then `run`; it exits as a fresh process would."""
    code = 1
    try:
        os.setsid()
        proc.die_with_parent()
        if os.getppid() != parent:  # the zygote died before PR_SET_PDEATHSIG was set
            os.kill(os.getpid(), signal.SIGTERM)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        log = os.open(request["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        run(list(request["args"]))
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt:
        code = -signal.SIGINT
    except BaseException:  # a bug in the level: in its log, as a plain child's would be
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
    if code == -signal.SIGINT:  # as an interrupted Python process ends: by the signal
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    os._exit(code & 0xFF)
