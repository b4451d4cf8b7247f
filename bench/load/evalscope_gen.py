"""evalscope as a load generator (bench/load/generator.py's `LoadGenerator`): a level, or a
round or worker's part of it, is one evalscope child (bench/load/evalscope.py) whose
database (evalscope_db.py) becomes the run's `RequestRow`s, cross-checked against its own
summary (evalscope_check.py). Its argv, folders, log, child process and the scenario's
secrets stay here.

Folders: a level's child writes `raw/level-NN/parallel_P_number_N/` and its log beside
(`raw/level-NN/evalscope.log`); a round writes under `raw/level-NN/round-R/`, a local worker
under `raw/level-NN/worker-W/` (a Ray worker's folder is unpacked there).
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.load import evalscope, evalscope_data, pool, ray_workers, workers
from bench.load.evalscope_check import cross_check
from bench.load.evalscope_db import DB_FILE, read_requests
from bench.load.result import ClientAccount, LoadRun, RawPart, RequestRow, shifted
from bench.schema.plan import LevelPlan
from bench.schema.results import LevelResult
from bench.schema.scenario import Scenario
from bench.workload import prepare

NAME = "evalscope"


def prewarm(run_dir: Path) -> None:
    """Start the run's evalscope zygote (bench/load/evalscope.py) without waiting for it."""
    evalscope.prewarm(run_dir)


def release(run_dir: Path) -> None:
    """Stop the run's evalscope zygotes (its own and its calibration's)."""
    evalscope.close_zygotes(run_dir)


class Evalscope:
    """evalscope perf against the server at `url`, for `scenario`'s load."""

    name = NAME

    def __init__(self, scenario: Scenario, url: str, tokenizer: str) -> None:
        self.scenario, self.url, self.tokenizer = scenario, url, tokenizer
        self.secrets = (evalscope.secret_args(scenario), evalscope.secret_values(scenario))

    def argv(self, plan: LevelPlan, outputs: Path) -> list[str]:
        return evalscope.level_argv(self.scenario, self.url, self.tokenizer, plan, outputs)

    def prepared(self, plan: LevelPlan) -> LevelPlan:
        """`plan` with its workload's requests built (bench/workload/prepare.py), before
        the level starts; as it is for evalscope's own random data."""
        return prepared(self.scenario, self.tokenizer, plan)

    def one(self, plan: LevelPlan, home: Path, hooks: Any) -> LoadRun:
        """`plan` as one child, its log in `home`; a level's own child (`home` is its raw
        folder) writes beside its log, a round's below it. Ctrl-C stops the child, keeps
        what it committed and says so (`interrupted`)."""
        plan = self.prepared(plan)
        outputs = home.parent if home == plan.raw else home
        folder = evalscope.level_dir(outputs, plan, self.scenario)
        log = home / evalscope.LOG_FILE
        home.mkdir(parents=True, exist_ok=True)
        account = ClientAccount(NAME, prepared=[plan.workload] if plan.workload else [])
        try:
            got = evalscope.run_level(
                self.argv(plan, outputs),
                folder,
                log,
                plan.time_limit_s,
                hooks.progress,
                on_start=hooks.on_client,
                secrets=self.secrets,
                run_dir=plan.run_dir,
            )
            account.exit_code, account.timed_out = got.returncode, got.timed_out
        except KeyboardInterrupt:
            account.interrupted = True
        account.log_tail = workers.log_tail(log)
        account.recorded = (folder / DB_FILE).exists()
        return LoadRun(read_requests(folder) if account.recorded else [], account, folder)

    def workers(self, plan: LevelPlan, k: int, hooks: Any) -> list[pool.Worker]:
        """`plan` as `k` workers' children under `raw/level-NN/worker-W/`: local (worker 1's
        pid to `hooks.on_client`), or Ray actors with `cluster: {engine: ray}`."""
        specs = workers.plan(self.scenario, self.url, self.tokenizer, plan, k)
        cluster = self.scenario.cluster
        if cluster is None or cluster.engine == "local":
            return [
                workers.LocalWorker(
                    s,
                    plan.raw / f"worker-{s.worker}",
                    self.secrets,
                    hooks.on_client if s.worker == 1 else None,
                )
                for s in specs
            ]
        ray = ray_workers.connect(cluster.address)
        return [
            ray_workers.RayWorker(
                ray, s, plan.raw / f"worker-{s.worker}", self.secrets, cluster.resources
            )
            for s in specs
        ]


def prepared(scenario: Scenario, tokenizer: str, plan: LevelPlan) -> LevelPlan:
    if scenario.workload is None:
        return plan
    total = plan.warmup + plan.number
    return replace(plan, workload=prepare.ensure(scenario, plan.seed, total, tokenizer))


def version() -> str:
    return evalscope.evalscope_version()


def read_folder(level_dir: Path) -> LoadRun:
    """A kept level folder's rows and evalscope's own figures' disagreements with them."""
    rows = read_requests(level_dir)
    return LoadRun(rows, ClientAccount(NAME, cross_check=cross_check(level_dir, rows)), level_dir)


def level_rows(run_dir: Path, level: LevelResult) -> list[RequestRow]:
    """A measured level's request rows, split or not, on the run's clock (each worker's
    stored clock offset applied), in completion order."""
    folder = run_dir / level.raw_dir
    if not level.diagnostics.workers:
        return read_requests(folder)
    rows: list[RequestRow] = []
    for stat in level.diagnostics.workers:
        at = folder / f"worker-{stat.worker}"
        for db in sorted(at.glob(f"level-*/*/{DB_FILE}")):
            rows += shifted(read_requests(db.parent), stat.clock_offset_s)
    return sorted(rows, key=lambda r: r.completed_time)


REPORT_FILE = "perf_report.html"
_PART = re.compile(r"^(worker|round)-(\d+)$")


def raw_parts(run_dir: Path, level: LevelResult) -> list[RawPart]:
    """Every evalscope database under the level's raw folder (one; one per load worker
    `worker-W`; one per round `round-R`), its rows shifted by the worker's stored clock
    offset; none once deleted."""
    folder = run_dir / level.raw_dir if level.raw_dir else None
    if folder is None or not folder.is_dir():
        return []
    offsets = {w.worker: w.clock_offset_s for w in level.diagnostics.workers or []}
    parts = []
    for db in sorted(folder.rglob(DB_FILE)):
        found = {"worker": 1, "round": 1}
        for name in db.relative_to(folder).parts:
            if m := _PART.match(name):
                found[m.group(1)] = int(m.group(2))
        rows = shifted(read_requests(db.parent), offsets.get(found["worker"], 0.0))
        # evalscope's HTML view of the same rows (it loads plotly from a CDN): derived.
        html = [p for p in [db.parent.parent / REPORT_FILE] if p.is_file()]
        parts.append(RawPart(found["worker"], found["round"], rows, [db, *html]))
    return parts


def commands(
    scenario: Scenario, url: str, tokenizer: str, plans: list[LevelPlan]
) -> dict[str, list[Any]]:
    """The sweep as one evalscope command, each level's own, and the secret flags each
    gets through its environment, written as in the scenario (for --dry-run)."""
    gen = Evalscope(scenario, url, tokenizer)
    return {
        "sweep_argv": evalscope.sweep_argv(scenario, url, tokenizer),
        "level_argvs": [gen.argv(p, p.run_dir / "raw") for p in plans],
        "secret_args": evalscope.secret_args(scenario, resolved=False),
    }


def prompts(scenario: Scenario, tokenizer: str, count: int) -> list[dict[str, Any]]:
    return evalscope_data.prompts(scenario, tokenizer, count)
