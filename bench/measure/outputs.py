"""A run's write path: run.json after every level, and at the end run.json, then the report.

run.json is the source of truth, so at the end it is written first, with SIGINT and
SIGTERM held back for the moment it takes (a second Ctrl-C lands after it, not half-way);
the report is rendered from it and can always be made again with `vlm-bench report
RUN_DIR`. A Ctrl-C that cuts the report short leaves report.md without its plots (every
finished level in it all the same), and the console says how to make it whole.

A write that fails (disk full, a read-only or vanished folder) ends the sweep cleanly:
the server is stopped, one last attempt records the failure in run.json (status failed,
the reason), and the run ends with one line naming the file and exit 1. So that the last
attempt finds room on a full disk, a run holds a reserve (`Reserve`: RESERVE_BYTES in
`RUN_DIR/.reserve`) from its start and frees it for that write. Every file is replaced
atomically (`bench.schema.runwrite.write_atomic`), so when even that last attempt fails the
previous run.json stays, valid; the measured levels and their raw files are kept.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console

from bench.errors import EXIT_RUN_FAILED, UserError
from bench.measure.holds import hold
from bench.measure.level import now_iso
from bench.measure.lock import RunLock
from bench.report import plots, telemetry
from bench.report.console import trusted_line
from bench.report.markdown import plot_caption, render_report
from bench.schema.results import LevelStatus, RunResult, RunStatus, aggregate
from bench.schema.runfile import read_run
from bench.schema.runwrite import write_atomic, write_run
from bench.store.auto import index_finished_run

log = logging.getLogger(__name__)

FULL = (errno.ENOSPC, errno.EDQUOT)
RESERVE_BYTES = 1 << 20  # run.json and levels.csv of a large sweep with repeats fit


class Reserve:
    """Disk space held for the run's last write (`RUN_DIR/.reserve`, zeros written out so
    the blocks are allocated), given back by `free`. None of it is an error: a reserve
    that could not be made is simply not there to free."""

    def __init__(self, run_dir: Path) -> None:
        self.path: Path | None = run_dir / ".reserve"
        try:
            with self.path.open("wb") as fh:
                fh.write(bytes(RESERVE_BYTES))
                fh.flush()
                os.fsync(fh.fileno())
        except OSError:
            self.free()

    def free(self) -> None:
        if self.path is not None:
            with contextlib.suppress(OSError):
                self.path.unlink(missing_ok=True)
            self.path = None


class WriteFailed(Exception):
    """run.json or levels.csv could not be written during the sweep."""

    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error


class OutputError(UserError):
    """The run's files could not be written: the run failed (exit 1), not the input."""

    exit_code = EXIT_RUN_FAILED


def save(run: RunResult, run_dir: Path) -> None:
    """`write_run`, its OSError turned into WriteFailed (which ends the sweep)."""
    try:
        write_run(run, run_dir)
    except OSError as exc:
        raise WriteFailed(exc) from exc


def is_file_error(exc: OSError) -> bool:
    """A file system's error (full, read-only, I/O, a path that vanished), not a
    connection's: those are the server's, and handled where requests are made."""
    if isinstance(exc, ConnectionError | TimeoutError):
        return False
    return exc.filename is not None or exc.errno in (*FULL, errno.EROFS, errno.EIO)


def failure_reason(exc: OSError) -> str:
    """The run's reason for a write error: 'disk full: FILE: …' or 'cannot write FILE: …'."""
    what = f"{exc.filename}: {exc.strerror or exc}"
    return f"disk full: {what}" if exc.errno in FULL else f"cannot write {what}"


@contextmanager
def signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM held back inside the block, delivered when it ends."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def write_outputs(
    run: RunResult,
    run_dir: Path,
    console: Console,
    report: Callable[[RunResult, Path], None],
    reserve: Reserve | None = None,
) -> OSError | None:
    """run.json, then (if that worked) the report; the write error, or None. The disk
    space `reserve` is freed before the write once the run is known to have failed on a
    write, or when run.json does not fit without it.

    A KeyboardInterrupt during the report (a second Ctrl-C) leaves run.json written, the
    report written without its plots, and says on the console how to make it whole; it
    propagates.
    """
    try:
        try:
            with signals_held():
                _write_run_with_reserve(run, run_dir, reserve)
        except OSError as exc:
            return exc  # the report is made from run.json: not from a state it lacks
        report(run, run_dir)
    except KeyboardInterrupt:
        _plain_report(run, run_dir, console)
        raise
    except OSError as exc:
        return exc
    return None


def _plain_report(run: RunResult, run_dir: Path, console: Console) -> None:
    """After a Ctrl-C cut the report short: report.md without its plots (quick, signals
    held), so every finished level is in the report as in run.json, and a line on how to
    make it whole."""
    try:
        with signals_held():
            write_atomic(run_dir / "report.md", render_report(run, []))
        said = "report written without its plots (interrupted); make it whole with"
    except Exception:  # whatever it was, the Ctrl-C is what propagates
        log.exception("report.md not written")
        said = "report not written (interrupted); make it with"
    console.print(
        f"{said}: vlm-bench report {run_dir}",
        markup=False,
        highlight=False,
        soft_wrap=True,  # one line, whatever the terminal's width
    )


def _write_run_with_reserve(run: RunResult, run_dir: Path, reserve: Reserve | None) -> None:
    try:
        write_run(run, run_dir)
    except OSError as exc:
        if reserve is None or reserve.path is None or exc.errno not in FULL:
            raise
        reserve.free()
        write_run(run, run_dir)


def finish(
    run: RunResult,
    run_dir: Path,
    console: Console,
    report: Callable[[RunResult, Path], None],
    stop: Callable[[], None],
    lock: RunLock,
    failed: OSError | None = None,
    reserve: Reserve | None = None,
) -> None:
    """The end of every run, whatever happened: stop the server, write run.json and the
    report, free the disk reserve and the run directory. OutputError when a file could
    not be written (now, or `failed` during the sweep)."""
    try:
        stop()
    finally:
        try:
            run.provenance.ended_at = now_iso()
            failed = write_outputs(run, run_dir, console, report, reserve) or failed
        finally:
            if reserve is not None:
                reserve.free()
            lock.release()
            if failed is None and run.status != RunStatus.COMPLETE:
                _say_kept(run, console)  # a bad input before any level stays one line
    if failed is not None:
        raise OutputError(_message(failed, run_dir)) from None
    # Into the default store (docs/store.md; VLM_BENCH_DB=off: not): only ever a warning.
    index_finished_run(run_dir)


def _say_kept(run: RunResult, console: Console) -> None:
    """A run that did not complete says what it keeps: its finished levels, how many of
    them are trusted, and why the others are not (nothing for a run that failed before
    its first level: its one error line says it all)."""
    if not run.levels and run.status != RunStatus.INTERRUPTED:
        return
    kept = sum(level.status == LevelStatus.OK for level in run.levels)
    line = f"{run.status}: {kept} finished level{'s' if kept != 1 else ''} kept in run.json"
    trusted = trusted_line(run.levels)
    console.print(line + (f"; {trusted}" if trusted else ""), markup=False, highlight=False)


def _message(exc: OSError, run_dir: Path) -> str:
    """`FILE: No space left on device — the N measured levels are kept; …`"""
    try:
        kept = sum(level.measured for level in read_run(run_dir).levels)
    except UserError:
        kept = 0
    levels = "the 1 measured level is" if kept == 1 else f"the {kept} measured levels are"
    when = "once there is room" if exc.errno in FULL else "once it can be written"
    return (
        f"{exc.filename}: {exc.strerror or exc} — {levels} kept; {when}, "
        f"re-render the report with: vlm-bench report {run_dir}"
    )


def write_report(run: RunResult, run_dir: Path, note: str = "") -> None:
    """report.md and its plots (PNG and SVG beside it). A plot that fails is logged, never
    allowed to cost the run its report. `note`: a paragraph under the title (a re-judged
    report says so there)."""
    names: list[str] = []
    try:
        series = [(run.scenario_name, aggregate(run.levels))]
        names = plots.write_all(series, plot_caption(run), run_dir)
        names += telemetry.write_plot(series, plot_caption(run), run_dir)
    except OSError as exc:  # disk full: one line, and report.md is tried all the same
        log.warning("plots not written: %s: %s", exc.filename, exc.strerror or exc)
    except Exception:  # matplotlib trouble must not lose the results
        log.exception("plots failed; report.md is written without them")
    hold("report")
    # Atomic: an interrupted or failed write leaves the previous report (or none), never
    # a truncated one.
    write_atomic(run_dir / "report.md", with_note(render_report(run, names), note))


def with_note(report: str, note: str) -> str:
    """The report with `note` as a quoted paragraph under its title line."""
    if not note:
        return report
    title, _, rest = report.partition("\n")
    return f"{title}\n\n> {note}\n{rest}"
