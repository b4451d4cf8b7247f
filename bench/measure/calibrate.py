"""Client self-calibration: how much of a level's TTFT and TPOT is the load generator's own.

After a level is measured, the same load shape (concurrency, images, prompt and output
lengths, endpoint, rate: bench/analyze/clienterror.py) is run once more, through the same
code path (bench/measure/level.py, so load workers split it the same way), against the
built-in simulator with fixed timings (profile `fixed`, bench/sim/fixed.py) set to the
level's own mean TTFT and TPOT. The simulator's trace says when each token was really
written, so the difference per request is the client's error; the level carries the bound
(`client.ttft_error_s`, `client.tpot_error_s`) and the validity check "client error" judges
it. Works for any server, /metrics or not: it never talks to the server under test.

Measured errors are cached (bench/measure/clienterror.py) and reused: `load.calibrate: on`
measures a shape once per host, vlm-bench and evalscope version; `always` measures again;
`off` never.
`auto` (the default) is `on` except against the built-in simulator: its trace and exact
/metrics histograms already give the truth (the TTFT-gap check compares client and server
directly), and a time-scaled simulator's levels are so short that the client's few
milliseconds would flag every one of them.
"""

from __future__ import annotations

import json
import logging
import math
import socket
import time
from pathlib import Path

from rich.console import Console
from rich.progress import Progress

import bench
from bench.analyze import clienterror, validity
from bench.analyze.clienterror import ClientError
from bench.errors import UserError
from bench.load.generator import level_rows
from bench.load.plan import plan_level
from bench.measure import clienterror as cache
from bench.measure.holds import hold
from bench.measure.level import Interrupted, measure
from bench.schema.plan import SweepLevel
from bench.schema.provenance import Provenance
from bench.schema.results import LevelResult
from bench.schema.scenario import Scenario, ValiditySpec
from bench.schema.scenario_load import SweepSpec
from bench.schema.scenario_server import SimServer
from bench.serve import server
from bench.sim.fixed import HEADER_TPOT, HEADER_TTFT
from bench.sim.record import TraceRecord
from bench.tools.tokenizer import cache_root

log = logging.getLogger(__name__)

WAVES = 3  # measured waves per calibration (after the warm-up wave): TTFT's bound is the worst
MIN_REQUESTS = 8  # at low concurrency: as many waves (of one or two requests)
# How a bound is measured, in the cache file's name: an entry measured another way is not
# reused. 2: the light server (bench/sim/lean.py), the worst of WAVES waves, the lean
# sender's own HTTP client (bench/load/http1.py).
METHOD = 2
SIM_MODEL = "sim-model"  # the fixed profile's served name
SIM_START_S = 2.0  # about what starting the fixed-timing simulator costs


def calibration_scenario(scenario: Scenario, ttft_s: float, tpot_s: float) -> Scenario:
    """The scenario's load against the fixed-timing simulator, set to these timings. No
    credentials (the simulator needs none: the user's key never leaves for it), no extra
    body; one level at a time."""
    load = scenario.load.model_copy(
        update={
            "headers": {HEADER_TTFT: repr(ttft_s), HEADER_TPOT: repr(tpot_s)},
            "api_key": None,
            "extra_body": {},
            "calibrate": "off",
        }
    )
    return scenario.model_copy(
        update={
            "name": f"{scenario.name}-calibration",
            "model": scenario.model.model_copy(update={"served_name": SIM_MODEL}),
            # The light server (bench/sim/lean.py): the simulator's own work per request
            # would count as the client's.
            "server": SimServer(kind="sim", profile="fixed", ready_timeout_s=60, args=["--lean"]),
            "load": load,
            "sweep": SweepSpec(parallel=[1], number=[1], reset_caches=False),
            "validity": ValiditySpec(),
        }
    )


def server_truth(trace: Path, offset: int) -> dict[str, tuple[float, float | None]]:
    """request_sha → (TTFT, TPOT) as the simulator wrote them, from `offset` on."""
    out: dict[str, tuple[float, float | None]] = {}
    with trace.open("rb") as fh:
        fh.seek(offset)
        for line in fh:
            rec = TraceRecord(**json.loads(line))
            if rec.outcome not in ("stop", "length") or rec.first_token is None:
                continue
            tpot = None
            if rec.last_token is not None and rec.output_tokens > 1:
                tpot = (rec.last_token - rec.first_token) / (rec.output_tokens - 1)
            out[rec.request_sha] = (rec.first_token - rec.arrival, tpot)
    return out


def enabled(scenario: Scenario) -> bool:
    """Whether `load.calibrate` asks for a calibration (auto: not against the simulator)."""
    mode = scenario.load.calibrate
    by_default = scenario.server.capabilities.calibrates_by_default
    return mode in ("on", "always") or (mode == "auto" and by_default)


class Calibrator:
    """Measures (or recalls) the client's error per level; `close()` stops its simulator."""

    def __init__(
        self,
        scenario: Scenario,
        run_dir: Path,
        tokenizer: str,
        evalscope_version: str,
        record: Provenance | None = None,
    ) -> None:
        self.scenario = scenario
        self.record = record if record is not None else Provenance()  # run.json's
        self.dir = run_dir / "calibration"
        self.tokenizer = tokenizer
        harness = f"{bench.__version__}-m{METHOD}"
        self.path = cache.cache_file(cache_root(), socket.gethostname(), harness, evalscope_version)
        self.handle: server.ServerHandle | None = None
        self.spent_s = 0.0  # seconds spent measuring (cache hits cost ~0)
        self.measured = self.reused = 0

    def pending(self, level: LevelResult) -> bool:
        """Whether `level` still lacks the client's error the scenario asks for (a level
        committed before its calibration ran, or was interrupted, lacks it too)."""
        sc = self.scenario
        usable = all(math.isfinite(x) and x > 0 for x in (level.ttft_avg_s, level.tpot_avg_s))
        calibrated = level.client.ttft_error_s is not None
        return enabled(sc) and level.measured and sc.load.stream and usable and not calibrated

    def attach(self, level: LevelResult, progress: Progress, console: Console) -> None:
        """Carry the client's error at `level`'s shape on it, and judge the level again.
        Ctrl-C while it measures is a plain KeyboardInterrupt: the level stays as it was."""
        if not self.pending(level):
            return
        sc = self.scenario
        ttft, tpot = level.ttft_avg_s, level.tpot_avg_s
        key = clienterror.shape(sc, level.parallel, self.record.workload_fingerprint)
        cached = cache.read_cache(self.path)
        error = (
            None if sc.load.calibrate == "always" else clienterror.lookup(cached, key, ttft, tpot)
        )
        if error is not None:
            self.reused += 1
        else:
            error = self._measure(level, progress, console)
            if error is None:
                console.print(f"[yellow]conc {level.parallel}: client self-calibration failed[/]")
                return
            self.measured += 1
            new = clienterror.entry(key, ttft, tpot, error)
            cache.write_cache(self.path, clienterror.replace_entry(cached, new))
        self.record.client_calibration = {
            "cache": str(self.path),
            "measured": self.measured,
            "reused": self.reused,
            "seconds": round(self.spent_s, 1),
        }
        level.client.ttft_error_s, level.client.tpot_error_s = error.ttft_s, error.tpot_s
        level.checks = validity.judge(level, sc)

    def _measure(
        self, level: LevelResult, progress: Progress, console: Console
    ) -> ClientError | None:
        started = time.monotonic()
        number = max(WAVES * level.parallel, MIN_REQUESTS)
        console.print(
            f"conc {level.parallel}: calibrating the client: "
            f"{number + self.scenario.load.warmup_for(level.parallel)} requests, "
            f"~{self.cost_s(level, number):.0f} s"
        )
        try:
            cal = calibration_scenario(self.scenario, level.ttft_avg_s, level.tpot_avg_s)
            handle = self._server(cal)
            hold("calibrating")
            trace = self.dir / "sim-trace.jsonl"
            offset = trace.stat().st_size if trace.exists() else 0
            number = max(WAVES * level.parallel, MIN_REQUESTS)
            at = SweepLevel(level.index, level.repeat, level.parallel, number)
            measured = measure(cal, handle, self.tokenizer, plan_level(cal, self.dir, at), progress)
            rows = level_rows(self.dir, measured) if measured.measured else []
            client = [
                (r.start_time, (r.request_sha, r.ttft_s, r.tpot_s)) for r in rows if r.success
            ]
            truth = server_truth(trace, offset)
            pairs = [
                clienterror.paired_errors(wave, truth)
                for wave in clienterror.waves(client, level.parallel)
            ]
            tpot = [error for _, wave_tpot in pairs for error in wave_tpot]
            return clienterror.estimate([wave_ttft for wave_ttft, _ in pairs], tpot)
        except Interrupted:
            # The level it carries is the calibration's own, never one of the run's.
            raise KeyboardInterrupt from None
        except (UserError, OSError, ValueError, TypeError) as exc:
            # A calibration that cannot run (the simulator, a raw file) costs the level
            # its "client error" figure, never the sweep.
            log.warning("client self-calibration at conc %d failed: %s", level.parallel, exc)
            return None
        finally:
            self.spent_s += time.monotonic() - started

    def cost_s(self, level: LevelResult, number: int) -> float:
        """About how long calibrating `level` takes: its warm-up and `number` requests in
        waves of `parallel`, each request the level's mean TTFT and its tokens' TPOT, and a
        simulator start the first time."""
        load = self.scenario.load
        requests = number + load.warmup_for(level.parallel)
        waves = math.ceil(requests / level.parallel)
        each = level.ttft_avg_s + max(level.output_tokens_avg - 1, 0) * level.tpot_avg_s
        return waves * each + (SIM_START_S if self.handle is None else 0.0)

    def _server(self, cal: Scenario) -> server.ServerHandle:
        """The fixed-timing simulator, started on first use and kept for the sweep (each
        request carries its own timings in headers)."""
        if self.handle is None or not self.handle.alive():
            self.dir.mkdir(parents=True, exist_ok=True)
            self.handle = server.start(cal, self.tokenizer, self.dir)
            self.handle.wait_ready()
        self.handle.scenario = cal
        return self.handle

    def close(self) -> None:
        if self.handle is not None:
            self.handle.stop()
            self.handle = None
