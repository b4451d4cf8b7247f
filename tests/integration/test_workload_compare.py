"""Step 16, acceptance 5: compare and gate refuse two real runs of different workloads,
naming what differs, in one line with exit 2. Tiny runs of scenarios/workload-photos.yaml
on the simulator through the real evalscope client: one as shipped, one with another reuse
ratio, one over a copy of the photos with one picture left out (the same settings, other
content: only the fingerprint tells them apart)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench.schema.runfile import read_run
from tests.support.cli import vlm_bench
from tests.support.paths import ROOT, SCENARIOS

pytestmark = pytest.mark.integration

PHOTOS = ROOT / "examples" / "photos"


def measure(out: Path, *settings: str) -> Path:
    """One level of two requests; the run folder."""
    sets = [arg for s in settings for arg in ("--set", s)]
    done = vlm_bench(
        "run",
        str(SCENARIOS / "workload-photos.yaml"),
        "--parallel",
        "1",
        "--number",
        "2",
        "--skip-check",
        "--out",
        str(out),
        *sets,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (run_dir,) = (out / "workload-photos").iterdir()
    return run_dir


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("wl")
    fewer = tmp / "photos"
    shutil.copytree(PHOTOS, fewer)
    next(p for p in sorted(fewer.iterdir()) if p.suffix in {".jpg", ".png"}).unlink()
    return {
        "base": measure(tmp / "base"),
        "reuse": measure(tmp / "reuse", "workload.reuse=0.25"),
        "fewer": measure(tmp / "fewer", f"workload.source.path={fewer}"),
    }


def test_the_fingerprint_is_in_provenance_and_the_report(runs: dict[str, Path]) -> None:
    prints = {name: read_run(d).provenance.workload_fingerprint for name, d in runs.items()}
    assert all(p and p.startswith("wl-") for p in prints.values())
    assert len(set(prints.values())) == 3
    assert read_run(runs["base"]).levels[0].workload.fingerprint == prints["base"]
    report = (runs["base"] / "report.md").read_text()
    assert f"Workload {prints['base']}: images from examples/photos at 640x640" in report


def test_compare_and_gate_refuse_another_reuse_ratio(runs: dict[str, Path]) -> None:
    for argv in (("compare",), ("gate",)):
        done = vlm_bench(*argv, str(runs["base"]), str(runs["reuse"]))
        assert done.returncode == 2, done.stdout + done.stderr
        (line,) = done.stderr.strip().splitlines()
        assert "runs differ in workload.reuse:" in line and "has 0.5" in line
        assert "has 0.25" in line
    forced = vlm_bench("compare", str(runs["base"]), str(runs["reuse"]), "--force")
    assert forced.returncode == 0, forced.stderr


def test_the_same_settings_over_other_photos_are_refused(runs: dict[str, Path]) -> None:
    done = vlm_bench("compare", str(runs["base"]), str(runs["fewer"]))
    assert done.returncode == 2, done.stdout + done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert "runs differ in workload content" in line
    prints = [read_run(runs[k]).provenance.workload_fingerprint for k in ("base", "fewer")]
    assert all(p and p in line for p in prints)


def test_resume_refuses_a_run_whose_photos_changed(tmp_path: Path) -> None:
    """The scenario hash of a workload run takes the sources' fingerprint: a photo changed
    after the run started makes `run --resume` refuse, saying so, in one line."""
    photos = tmp_path / "photos"
    shutil.copytree(PHOTOS, photos)
    run_dir = measure(tmp_path / "out", f"workload.source.path={photos}")
    started = read_run(run_dir).provenance.workload_fingerprint
    assert vlm_bench("run", "--resume", str(run_dir), cwd=ROOT).returncode == 0
    with (photos / "coffee.jpg").open("ab") as fh:
        fh.write(b"\0")
    done = vlm_bench("run", "--resume", str(run_dir), cwd=ROOT)
    assert done.returncode == 2, done.stdout + done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert "the workload's sources changed since the run started" in line
    assert f"fingerprint {started}, now wl-" in line
