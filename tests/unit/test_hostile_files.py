"""A hostile-results corpus through `db index`, `export`, `history` and `dashboard` (Step 18,
acceptance 1): broken JSON, wrong types, NaN, huge numbers, huge and control-character
text, NUL bytes, wrong encodings, a FIFO, a folder, a device and a symlink loop named
run.json, truncated files and edited gate.md files. Every answer is one line: exit 0 with
the bad input skipped and named, or exit 2 naming it; never a traceback, never a hang.

Pins the Step 18 bugs: a FIFO named run.json hung db index, dashboard and export (over
60 s); a run.json whose scenario_name was 10,000,000 characters made a 382 MB site; NUL
bytes went raw into HTML; an edited gate.md verdict was silently not shown.

In-process for speed; a case that would block (a FIFO) is released by a guard thread
after GUARD_S, which marks the test failed (see `_fifo_guard`).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import run_cli
from tests.support.dashboard import _current

GUARD_S = 20.0
HUGE = 10_000_000
SITE_LIMIT = 5_000_000  # bytes: a bounded site of one run is well under this

Make = Callable[[Path, dict[str, Any]], None]


def _bytes(content: Callable[[str], bytes]) -> Make:
    def make(folder: Path, good: dict[str, Any]) -> None:
        (folder / "run.json").write_bytes(content(json.dumps(good, indent=1)))

    return make


def _edit(change: Callable[[dict[str, Any]], None]) -> Make:
    def make(folder: Path, good: dict[str, Any]) -> None:
        data = json.loads(json.dumps(good))
        change(data)
        (folder / "run.json").write_text(json.dumps(data))

    return make


def _raw(old: str, new: str) -> Make:
    """Replace the first `old` in the JSON text with raw text (tokens JSON lacks)."""
    return _bytes(lambda text: text.replace(old, new, 1).encode())


def _set(path: str, value: Any) -> Make:
    def change(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[int(last) if last.isdigit() else last] = value

    return _edit(change)


def _special(make_node: Callable[[Path], None]) -> Make:
    return lambda folder, good: make_node(folder / "run.json")


def _symlink_loop(path: Path) -> None:
    path.symlink_to(path.name)


def _oversize(path: Path) -> None:
    with path.open("wb") as fh:
        fh.truncate(100 * 2**20)  # sparse: 100 MiB of zeros on no disk


RPS = '"rps": '
# (id, how the run.json is made, "skip" when it must be refused or "read" when its text is
# bounded and read)
CASES: list[tuple[str, Make, str]] = [
    ("truncated", _bytes(lambda t: t[: len(t) // 2].encode()), "skip"),
    ("empty", _bytes(lambda t: b""), "skip"),
    ("broken-json", _bytes(lambda t: t.replace("}", "", 1).encode()), "skip"),
    ("not-utf8", _bytes(lambda t: b"\xff\xfe" + t.encode()), "skip"),
    ("utf16", _bytes(lambda t: t.encode("utf-16")), "skip"),
    (
        "latin1-bytes",
        _bytes(lambda t: t.replace("quickstart", "quickst\u00e9").encode("latin-1")),
        "skip",
    ),
    ("raw-nul-byte", _bytes(lambda t: t.replace(",", ",\x00", 1).encode()), "skip"),
    ("utf8-bom", _bytes(lambda t: b"\xef\xbb\xbf" + t.encode()), "skip"),
    ("top-level-list", _bytes(lambda t: b"[" + t.encode() + b"]"), "skip"),
    ("levels-not-list", _set("levels", 5), "skip"),
    ("run-id-number", _set("run_id", 7), "skip"),
    ("scenario-name-list", _set("scenario_name", ["a"]), "skip"),
    ("rps-string", _set("levels.0.rps", "fast"), "skip"),
    ("provenance-list", _set("provenance", [1, 2]), "skip"),
    ("scenario-not-object", _set("scenario", "x"), "skip"),
    ("nan", _raw(RPS, RPS + 'NaN, "x": '), "skip"),
    ("infinity", _raw(RPS, RPS + '-Infinity, "x": '), "skip"),
    ("huge-float", _raw(RPS, RPS + '1e999, "x": '), "skip"),
    ("huge-int-text", _raw(RPS, RPS + "9" * 5000 + ', "x": '), "skip"),
    ("huge-int", _set("levels.0.rps", 2**80), "read"),  # finite: a (silly) figure
    ("huge-int-count", _set("levels.0.number", 2**80), "skip"),
    ("huge-name", _set("scenario_name", "n" * HUGE), "read"),
    ("huge-description", _set("scenario.description", "d" * HUGE), "read"),
    ("control-name", _set("scenario_name", "a\x1b[31mred\r\x07b"), "read"),
    ("nul-name", _set("scenario_name", "a\x00b"), "read"),
    ("nul-check-detail", _set("levels.0.checks.0.detail", "x\x00" * 50_000), "read"),
    ("surrogate-name", _raw('"scenario_name": "', '"scenario_name": "\\ud800'), "read"),
    ("bidi-name", _set("scenario_name", "abc\u202egnp.exe"), "read"),
    ("fifo", _special(os.mkfifo), "skip"),
    ("folder", _special(Path.mkdir), "skip"),
    ("symlink-loop", _special(_symlink_loop), "skip"),
    ("device", _special(lambda p: p.symlink_to("/dev/zero")), "skip"),
    ("oversize", _special(_oversize), "skip"),
    ("dangling-symlink", _special(lambda p: p.symlink_to("nowhere")), "skip"),
]


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    data: dict[str, Any] = _current(tmp_path_factory.mktemp("good"))
    return data


@contextmanager
def _fifo_guard(root: Path) -> Iterator[list[Path]]:
    """After GUARD_S, open every FIFO under `root` for writing and close it, so a reader
    blocked on one gets EOF and the test ends; the FIFOs that had a reader are yielded
    (empty when nothing hung)."""
    hung: list[Path] = []
    done = threading.Event()

    def release() -> None:
        if done.wait(GUARD_S):
            return
        for fifo in root.rglob("*"):
            try:
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
                hung.append(fifo)
            except OSError:
                pass

    guard = threading.Thread(target=release, daemon=True)
    guard.start()
    try:
        yield hung
    finally:
        done.set()
        guard.join()


def _case_root(tmp_path: Path, good: dict[str, Any], make: Make, expect: str) -> Path:
    """runs/bad (the case) and, for a refused case, runs/good beside it."""
    root = tmp_path / "runs"
    (root / "bad").mkdir(parents=True)
    make(root / "bad", good)
    if expect == "skip":
        (root / "good").mkdir()
        (root / "good" / "run.json").write_text(json.dumps(good))
    return root


def _commands(tmp_path: Path, root: Path) -> dict[str, list[str]]:
    return {
        "db index": ["db", "index", "--db", str(tmp_path / "s.db"), str(root)],
        "export": ["export", str(root), "--format", "csv", "--out", str(tmp_path / "x.csv")],
        "history": ["history", "--runs", str(root), "--conc", "1"],
        "dashboard": ["dashboard", str(root), "--out", str(tmp_path / "site")],
    }


def _one_answer(command: str, code: int, err: str, warnings: list[str], bad: Path, expect: str):
    """Exit 0 with the bad file skipped and named once, or (the dashboard, which shows
    every run it is given) exit 2 naming it in one line; for a run whose text is bounded
    and read, exit 0 and nothing skipped."""
    assert "Traceback" not in err
    named = [line for line in err.splitlines() + warnings if str(bad) in line]
    lines = err.strip().splitlines()
    if expect == "read":
        assert code == 0 and not named, err
    elif code == 2:
        assert command == "dashboard", err
        assert len(lines) == 1 and str(bad) in lines[0], err
    else:
        assert code == 0 and len(named) == 1 and "skipped" in named[0], (err, warnings)
    assert all(len(line) < 3_000 for line in err.splitlines()), "an error line is unbounded"


def _site_is_bounded(site: Path) -> None:
    pages = [p for p in site.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in pages) < SITE_LIMIT
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert "\x00" not in text and "\x1b" not in text and "\ud800" not in text, page


@pytest.mark.parametrize("command", ["db index", "export", "history", "dashboard"])
@pytest.mark.parametrize(("make", "expect"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_hostile_run_files_get_one_answer(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    good: dict[str, Any],
    make: Make,
    expect: str,
    command: str,
) -> None:
    root = _case_root(tmp_path, good, make, expect)
    started = time.monotonic()
    with _fifo_guard(root) as hung, caplog.at_level(logging.WARNING):
        code, out, err = run_cli(capsys, *_commands(tmp_path, root)[command])
    assert not hung, f"{command} blocked on {hung} for {time.monotonic() - started:.0f} s"
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    _one_answer(command, code, err, warnings, root / "bad" / "run.json", expect)
    assert len(out) < SITE_LIMIT
    if command == "dashboard" and expect == "read":
        _site_is_bounded(tmp_path / "site")


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) >= 30


def _gate(folder: Path, good: dict[str, Any], first_line: str) -> None:
    label = f"{good['scenario_name']} {good['run_id']}"
    folder.mkdir(parents=True)
    (folder / "gate.md").write_text(
        f"{first_line}\n\nBaseline: {label} (1 repeat per level); candidate: {label} "
        "(1 repeat per level)\n"
    )


@pytest.mark.parametrize(
    ("first_line", "shown"),
    [
        ("## gate: PASS — 12 cells", "PASS"),
        ("## gate: PASSED BY HAND", "UNREADABLE"),
        ("## verdict edited away", "UNREADABLE"),
    ],
)
def test_an_edited_gate_verdict_is_said_unreadable(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    good: dict[str, Any],
    first_line: str,
    shown: str,
) -> None:
    """Regression (Step 18): a gate.md whose verdict line was edited was silently not
    shown on the dashboard."""
    root = tmp_path / "runs"
    (root / "run").mkdir(parents=True)
    (root / "run" / "run.json").write_text(json.dumps(good))
    _gate(root / "gate", good, first_line)
    code, _, err = run_cli(capsys, "dashboard", str(root), "--out", str(tmp_path / "site"))
    assert code == 0, err
    index = (tmp_path / "site" / "index.html").read_text()
    assert f">{shown}<" in index


@pytest.mark.parametrize("node", [os.mkfifo, Path.mkdir])
def test_a_gate_md_that_is_no_file_is_skipped_and_named(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    good: dict[str, Any],
    node: Callable[[Path], None],
) -> None:
    root = tmp_path / "runs"
    (root / "run").mkdir(parents=True)
    (root / "run" / "run.json").write_text(json.dumps(good))
    (root / "gate").mkdir()
    node(root / "gate" / "gate.md")
    with _fifo_guard(root) as hung, caplog.at_level(logging.WARNING):
        code, _, err = run_cli(capsys, "dashboard", str(root), "--out", str(tmp_path / "site"))
    assert not hung and code == 0, err
    assert any(str(root / "gate" / "gate.md") in r.getMessage() for r in caplog.records)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads folders whatever their mode")
def test_an_unreadable_run_folder_is_named(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    good: dict[str, Any],
) -> None:
    """Regression (Step 18): an unreadable run folder was skipped without a word."""
    root = tmp_path / "runs"
    for name in ("good", "locked"):
        (root / name / "run").mkdir(parents=True)
        (root / name / "run" / "run.json").write_text(json.dumps(good))
    (root / "locked").chmod(0)
    try:
        with caplog.at_level(logging.WARNING):
            code, _, err = run_cli(capsys, "db", "index", "--db", str(tmp_path / "s.db"), str(root))
    finally:
        (root / "locked").chmod(0o755)
    assert code == 0, err
    assert any(str(root / "locked") in r.getMessage() for r in caplog.records)


def test_a_folder_is_replaced_whole_or_not_at_all(tmp_path: Path) -> None:
    """safepath.replaced_folder: an error or a SIGTERM inside the block leaves the previous
    folder and no temporary one; a block that ends replaces it."""
    import signal

    from bench.safepath import replaced_folder

    out = tmp_path / "site"
    out.mkdir()
    (out / "old.html").write_text("old")
    with pytest.raises(SystemExit) as stop, replaced_folder(out) as tmp:
        (tmp / "half.html").write_text("half")
        os.kill(os.getpid(), signal.SIGTERM)
    assert stop.value.code == 128 + signal.SIGTERM
    with pytest.raises(RuntimeError), replaced_folder(out) as tmp:
        (tmp / "half.html").write_text("half")
        raise RuntimeError("bug")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]
    assert [p.name for p in out.iterdir()] == ["old.html"]
    with replaced_folder(out) as tmp:
        (tmp / "new.html").write_text("new")
    assert [p.name for p in out.iterdir()] == ["new.html"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]


def test_a_site_left_by_a_killed_build_is_removed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], good: dict[str, Any]
) -> None:
    """SIGKILL cannot be caught: the next build removes the temporary site it left (ours
    only: a folder of the pattern without the marker is not touched)."""
    (tmp_path / "runs" / "run").mkdir(parents=True)
    (tmp_path / "runs" / "run" / "run.json").write_text(json.dumps(good))
    ours, theirs = tmp_path / ".site.abc123.tmp", tmp_path / ".site.keep.tmp"
    ours.mkdir()
    (ours / ".vlm-bench-dashboard").write_text("x")
    theirs.mkdir()
    code, _, err = run_cli(
        capsys, "dashboard", str(tmp_path / "runs"), "--out", str(tmp_path / "site")
    )
    assert code == 0, err
    assert not ours.exists() and theirs.exists()


def test_several_hostile_scenario_names_give_a_bounded_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], good: dict[str, Any]
) -> None:
    """Regression (Step 18): history's 'several scenarios' error printed every name whole
    (10,000,000 characters)."""
    for name in ("a", "b"):
        data = {**good, "scenario_name": name * HUGE}
        (tmp_path / name).mkdir()
        (tmp_path / name / "run.json").write_text(json.dumps(data))
    code, _, err = run_cli(capsys, "history", "--runs", str(tmp_path), "--conc", "1")
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "several scenarios" in lines[0]
    assert len(lines[0]) < 3_000 and "more characters)" in lines[0]


def test_store_rows_are_scrubbed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], good: dict[str, Any]
) -> None:
    """The store is a sink: a run.json that another tool (or an older vlm-bench) wrote
    with a Ray password in its reason does not carry it into the store's rows."""
    canary = "CANARY-0d5e11"
    data = {**good, "reason": f"cannot connect to 'ray://u:{canary}@head:10001'"}
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "run.json").write_text(json.dumps(data))
    code, _, err = run_cli(capsys, "db", "index", "--db", str(tmp_path / "s.db"), str(tmp_path))
    assert code == 0, err
    assert canary.encode() not in (tmp_path / "s.db").read_bytes()
    assert b"ray://<redacted>@head" in (tmp_path / "s.db").read_bytes()


@pytest.mark.parametrize("what", ["scenario", "plan", "table"])
@pytest.mark.parametrize("node", [os.mkfifo, Path.mkdir], ids=["fifo", "folder"])
def test_special_files_as_scenario_plan_or_table_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], what: str, node: Callable[[Path], None]
) -> None:
    """Only regular files are read as scenarios, fleet plans and published tables: a FIFO
    would block the read for ever (Step 18)."""
    from tests.support.paths import SCENARIOS

    bad = tmp_path / "input"
    node(bad)
    argv = {
        "scenario": ["validate", str(bad)],
        "plan": ["fleet", str(bad)],
        "table": ["import-table", str(bad), "--name", "pub", "--scenario",
                  str(SCENARIOS / "vlm-r1-ovd-800ta2.yaml"), "--out", str(tmp_path / "out")],
    }[what]  # fmt: skip
    with _fifo_guard(tmp_path) as hung:
        code, _, err = run_cli(capsys, *argv)
    assert not hung
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and str(bad) in lines[0] and "Traceback" not in err
    assert "only regular files are read" in lines[0]


def test_a_rebuild_keeps_the_users_files_in_the_site_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], good: dict[str, Any]
) -> None:
    """The swap replaces pages and assets; a file the user put beside them stays (as
    before the site was swapped in whole)."""
    (tmp_path / "runs" / "run").mkdir(parents=True)
    (tmp_path / "runs" / "run" / "run.json").write_text(json.dumps(good))
    argv = ["dashboard", str(tmp_path / "runs"), "--out", str(tmp_path / "site")]
    assert run_cli(capsys, *argv)[0] == 0
    (tmp_path / "site" / "README.txt").write_text("mine")
    (tmp_path / "site" / "stale.html").write_text("old page")
    assert run_cli(capsys, *argv)[0] == 0
    assert (tmp_path / "site" / "README.txt").read_text() == "mine"
    assert not (tmp_path / "site" / "stale.html").exists()
