"""The client's self-calibration without processes: the error model (pairing, bound), the
cache (key, nearest match, corrupt files), the "client error" validity check, and run.json
staying as it was for levels and scenarios that do not use it."""

from __future__ import annotations

import json
import math
from pathlib import Path

from bench.analyze import clienterror
from bench.analyze.validity import judge_level
from bench.measure import clienterror as cache
from bench.measure.calibrate import calibration_scenario, server_truth
from bench.schema.results import CheckStatus
from bench.schema.scenario import ValiditySpec, scenario_hash, without_quiet_defaults
from bench.schema.views import ClientView, ServerView
from bench.sim.fixed import HEADER_TPOT, HEADER_TTFT
from tests.support.factories import level, small_scenario


def test_paired_errors_match_requests_by_digest_and_skip_unpaired() -> None:
    client = [("a", 0.205, 0.0201), ("b", 0.210, None), ("c", 0.3, 0.02), (None, 0.2, 0.02)]
    server = {"a": (0.200, 0.0200), "b": (0.201, 0.0200)}
    ttft, tpot = clienterror.paired_errors(client, server)
    assert [round(x, 6) for x in ttft] == [0.005, 0.009]
    assert [round(x, 6) for x in tpot] == [0.0001]


def test_bound_is_mean_plus_two_standard_errors() -> None:
    values = [0.001, 0.003, 0.002, 0.004]
    sd = math.sqrt(sum((v - 0.0025) ** 2 for v in values) / 3)
    assert math.isclose(clienterror.upper_bound(values), 0.0025 + 2 * sd / 2)
    assert clienterror.upper_bound([0.004]) == 0.004
    error = clienterror.estimate([[0.002, 0.002]], [])
    assert error == clienterror.ClientError(0.002, None, 2)
    assert clienterror.estimate([], []) is None and clienterror.estimate([[]], []) is None


def test_ttfts_bound_is_the_worst_waves_and_tpots_is_over_all_requests() -> None:
    """Regression: one wave's bound fell below a level's mean error (c64: 1.9 ms beside
    a level of waves 3.1, 2.0, 0.9 and 1.7 ms), since a wave's requests wait together."""
    rows = [(0.3, "c"), (0.1, "a"), (0.2, "b"), (0.4, "d"), (0.5, "e")]
    assert clienterror.waves(rows, 2) == [["a", "b"], ["c", "d"], ["e"]]
    assert clienterror.waves(rows, 0) == [["a"], ["b"], ["c"], ["d"], ["e"]]
    error = clienterror.estimate([[0.001, 0.001], [0.003, 0.003], [0.002]], [0.0001, 0.0003])
    assert error is not None and error.ttft_s == 0.003 and error.requests == 5
    assert error.tpot_s == clienterror.upper_bound([0.0001, 0.0003])


def test_shape_holds_what_sets_the_clients_work_and_not_the_server() -> None:
    a = small_scenario(load={"image_width": 320})
    b = small_scenario(load={"image_width": 320}, server={"kind": "sim", "profile": "fixed"})
    assert clienterror.shape(a, 8) == clienterror.shape(b, 8)
    assert clienterror.shape(a, 8) != clienterror.shape(a, 16)
    assert clienterror.shape(a, 8) != clienterror.shape(small_scenario(), 8)
    # A workload's requests are not load.dataset's: each workload is a shape of its own.
    assert clienterror.shape(a, 8, "w1") != clienterror.shape(a, 8)
    assert clienterror.shape(a, 8, "w1") != clienterror.shape(a, 8, "w2")


def test_lookup_reuses_the_nearest_entry_within_the_timing_match() -> None:
    key = clienterror.shape(small_scenario(), 8)
    near = clienterror.entry(key, 0.200, 0.020, clienterror.ClientError(0.004, 0.0001, 16))
    nearer = clienterror.entry(key, 0.210, 0.021, clienterror.ClientError(0.005, 0.0001, 16))
    entries = [near, nearer]
    assert clienterror.lookup(entries, key, 0.212, 0.021) == clienterror.ClientError(
        0.005, 0.0001, 16
    )
    assert clienterror.lookup(entries, key, 0.450, 0.020) is None  # TTFT 55 % off
    assert clienterror.lookup(entries, key, 0.200, 0.030) is None  # TPOT 50 % off
    other = clienterror.shape(small_scenario(), 16)
    assert clienterror.lookup(entries, other, 0.200, 0.020) is None
    replaced = clienterror.replace_entry(entries, near)
    assert replaced == [near]  # both old entries were within the match of the new one


def test_cache_file_is_per_host_and_versions_and_survives_corruption(tmp_path: Path) -> None:
    path = cache.cache_file(tmp_path, "host/1", "0.1.0", "1.14.1")
    assert path.parent == tmp_path / "client-error"
    assert path.name == "host_1-0.1.0-1.14.1.json"
    assert path != cache.cache_file(tmp_path, "host/1", "0.1.0", "1.14.2")
    assert cache.read_cache(path) == []
    key = clienterror.shape(small_scenario(), 1)
    new = clienterror.entry(key, 0.2, 0.02, clienterror.ClientError(0.003, None, 4))
    cache.write_cache(path, [new])
    assert cache.read_cache(path) == [json.loads(json.dumps(new))]
    for bad in ("{", '{"entries": [{"shape": {}}]}', "[]"):
        path.write_text(bad)
        assert cache.read_cache(path) == []


def client_level(error_s: float | None, ttft_s: float = 0.2) -> list:
    lv = level(4, 16, succeeded=16, ttft_avg_s=ttft_s)
    client = ClientView(ttft_error_s=error_s, tpot_error_s=None if error_s is None else 1e-4)
    return judge_level(lv, ServerView(), client, ValiditySpec())


def test_client_error_check_flags_beyond_the_larger_of_two_percent_and_two_ms() -> None:
    assert "client error" not in [c.name for c in client_level(None)]  # not calibrated
    (ok,) = [c for c in client_level(0.0039) if c.name == "client error"]
    assert ok.status == CheckStatus.OK and "client error ≤ 3.9 ms" in ok.detail
    (flag,) = [c for c in client_level(0.0041) if c.name == "client error"]
    assert flag.status == CheckStatus.FLAG
    # One plain sentence with the numbers (Step 17).
    assert flag.detail == (
        "the client added up to 4.1 ms to the mean TTFT of 200.0 ms (2.0 %), more than "
        "the tolerance of 4.0 ms (the larger of 2 % of TTFT and 2 ms)"
    )
    # A short TTFT: the 2 ms floor is the tolerance.
    (floor,) = [c for c in client_level(0.0019, ttft_s=0.02) if c.name == "client error"]
    assert floor.status == CheckStatus.OK


def test_new_fields_are_quiet_at_their_defaults() -> None:
    """Scenarios that do not set them keep their hash and their stored form."""
    base = small_scenario()
    off = small_scenario(load={"calibrate": "off"}, validity={"max_client_error_s": 0.01})
    dumped = without_quiet_defaults(base.model_dump(mode="json"))
    assert "calibrate" not in dumped["load"] and "max_client_error_s" not in dumped["validity"]
    assert without_quiet_defaults(off.model_dump(mode="json"))["load"]["calibrate"] == "off"
    assert scenario_hash(base) == scenario_hash(small_scenario(load={"calibrate": "auto"}))
    assert scenario_hash(base) != scenario_hash(off)
    assert "ttft_error_s" not in ClientView().to_dict()


def test_calibration_scenario_targets_the_fixed_simulator_without_credentials() -> None:
    sc = small_scenario(load={"api_key": "secret-key", "headers": {"X-A": "b"}})
    cal = calibration_scenario(sc, 0.25, 0.02)
    assert cal.server.kind == "sim" and cal.server.profile == "fixed"
    assert cal.load.api_key is None
    assert cal.load.headers == {HEADER_TTFT: "0.25", HEADER_TPOT: "0.02"}
    assert cal.load.calibrate == "off"
    assert clienterror.shape(cal, 4) == clienterror.shape(sc, 4)


def test_server_truth_reads_finished_requests_from_an_offset(tmp_path: Path) -> None:
    trace = tmp_path / "trace.jsonl"
    old = {"rid": 1, "request_sha": "x", "arrival": 0.0, "outcome": "length"}
    lines = [
        {**old, "first_token": 0.2, "last_token": 0.4, "output_tokens": 11},
        {
            **old,
            "rid": 2,
            "request_sha": "a",
            "arrival": 1.0,
            "first_token": 1.2,
            "last_token": 1.4,
            "output_tokens": 11,
        },
        {**old, "rid": 3, "request_sha": "b", "arrival": 1.0, "outcome": "error 500"},
    ]
    text = [json.dumps(x) + "\n" for x in lines]
    trace.write_text("".join(text))
    truth = server_truth(trace, len(text[0]))
    assert list(truth) == ["a"]
    assert math.isclose(truth["a"][0], 0.2) and math.isclose(truth["a"][1] or 0, 0.02)


def test_yaml_on_and_off_are_the_modes() -> None:
    """YAML reads a bare `on`/`off` as a boolean: they mean the modes of those names."""
    assert small_scenario(load={"calibrate": True}).load.calibrate == "on"
    assert small_scenario(load={"calibrate": False}).load.calibrate == "off"
