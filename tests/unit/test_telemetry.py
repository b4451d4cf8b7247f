"""Accelerator telemetry: the parsers on recorded tool output, energy by counter and by
integral on a real H200 trace, the level summary, and the sampler's thread."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from bench.measure import accel, telemetry
from bench.measure.hwinfo import accelerators
from bench.schema.views import TelemetryView
from tests.support import factories
from tests.support.telemetry import PROVENANCE, TELEMETRY, nvml_trace, trace_samples

BUSY = (8.1, 14.8)  # the matmul loop's plateau, after the power reading's ramp


def test_nvidia_smi_csv_query_recorded_on_h200() -> None:
    text = (TELEMETRY / "nvidia-smi-query.csv").read_text()
    assert accel.parse_nvsmi_names(text) == [
        {"index": 0, "name": "NVIDIA H200", "memory_total_mb": 143771, "bus_id": "00000000:00:06.0"}
    ]
    (row,) = accel.parse_nvsmi_query(text)  # a header names the columns it has
    assert row == {"device": 0, "mem_total_mb": 143771.0}


def test_nvidia_smi_telemetry_rows_and_not_available_cells() -> None:
    text = "0, 99, 1753, 143771, 690.12, 41, 9208037\n1, 0, 615, 143771, [N/A], 38, [N/A]\n"
    first, second = accel.parse_nvsmi_query(text)
    assert first == {
        "device": 0,
        "util": 99.0,
        "mem_used_mb": 1753.0,
        "mem_total_mb": 143771.0,
        "power_w": 690.12,
        "temp_c": 41.0,
        "energy_j": 9208.037,
    }
    assert second["power_w"] is None and second["energy_j"] is None
    no_energy = accel.parse_nvsmi_query("0, 5, 1, 2, 3.5, 40\n", accel.NVSMI_FIELDS_NO_ENERGY)
    assert no_energy[0]["power_w"] == 3.5 and "energy_j" not in no_energy[0]


@pytest.mark.parametrize(
    "text",
    [
        'Field "energy.consumed" is not a valid field to query.\n',
        "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\n",
        "",
    ],
)
def test_nvidia_smi_errors_are_not_rows(text: str) -> None:
    with pytest.raises(ValueError):
        accel.parse_nvsmi_query(text)


def test_provenance_takes_full_names_from_the_csv_query() -> None:
    table = (PROVENANCE / "nvidia-smi-a100-525.txt").read_text()
    full = "0, NVIDIA A100-SXM4-80GB, 81920, 00000000:00:04.0\n"

    def run(argv: list[str]) -> str | None:
        return table if argv == ["nvidia-smi"] else full

    (gpu,) = accelerators(run)["gpu"]["devices"]
    assert gpu["name"] == "NVIDIA A100-SXM4-80GB"
    # A driver that refuses the query keeps the table's (truncated) name.
    kept = accelerators(lambda argv: table if argv == ["nvidia-smi"] else "error")
    assert kept["gpu"]["devices"][0]["name"].endswith("...")


def test_npu_smi_table_910b3() -> None:
    rows = accel.parse_npu_table((PROVENANCE / "npu-smi-910b3-8.txt").read_text())
    assert [r["device"] for r in rows] == list(range(8))
    assert rows[0] == {
        "device": 0,
        "npu": 0,
        "chip": 0,
        "util": 0.0,
        "mem_used_mb": 4487.0,
        "mem_total_mb": 65536.0,
        "power_w": 94.3,
        "temp_c": 53.0,
    }


def test_npu_smi_table_300i_duo_devices_and_no_power() -> None:
    rows = accel.parse_npu_table((PROVENANCE / "npu-smi-310p3-duo.txt").read_text())
    assert [(r["npu"], r["chip"], r["device"]) for r in rows[:3]] == [
        (0, 0, 0),
        (0, 1, 1),
        (96, 0, 2),
    ]
    assert rows[0]["power_w"] is None and rows[0]["temp_c"] == 86.0
    assert (rows[0]["mem_used_mb"], rows[0]["mem_total_mb"]) == (35552.0, 44278.0)


def test_npu_smi_older_driver_and_other_text() -> None:
    rows = accel.parse_npu_table((PROVENANCE / "npu-smi-910b2-8-23.0.3.txt").read_text())
    assert len(rows) == 8 and all(r["power_w"] is not None for r in rows)
    with pytest.raises(ValueError):
        accel.parse_npu_table("dcmi module initialize failed. ret is -8005\n")


@pytest.mark.parametrize(
    ("env", "devices", "ids"),
    [
        ({"ASCEND_RT_VISIBLE_DEVICES": "2,3"}, [], [2, 3]),
        ({"CUDA_VISIBLE_DEVICES": "1"}, [], [1]),
        ({"CUDA_VISIBLE_DEVICES": "GPU-8f2c"}, [], None),  # UUIDs: every device
        ({"NVIDIA_VISIBLE_DEVICES": "all"}, [], None),
        ({}, ["/dev/davinci4", "/dev/davinci_manager", "/dev/davinci5:/dev/davinci5"], [4, 5]),
        ({}, [], None),
    ],
)
def test_visible_devices(env: dict[str, str], devices: list[str], ids: list[int] | None) -> None:
    assert accel.visible_devices(env, devices) == ids


def test_energy_counter_and_integral_on_the_h200_trace() -> None:
    """Over the whole idle → busy → idle trace the two agree to 0.6 %, and over any 5 s
    window of the busy plateau to 2 %; across a load step they do not: NVML's power
    reading is averaged and lags the step (~0.5-1 s), the counter does not."""
    rows = nvml_trace()
    power = [(r["t_s"], r["power_w"]) for r in rows]
    energy = [(r["t_s"], r["energy_mj"] / 1000) for r in rows]
    whole = (rows[0]["t_s"], rows[-1]["t_s"])
    counter, integral = accel.counter_j(energy, whole), accel.integral_j(power, whole)
    assert counter == pytest.approx(6404.008) and integral == pytest.approx(6366.1, abs=0.1)
    assert abs(counter / integral - 1) < 0.01
    for start in (8.1, 8.9, 9.7):
        window = (start, start + 5.0)
        assert accel.counter_j(energy, window) == pytest.approx(
            accel.integral_j(power, window), rel=0.02
        )
    step = (7.19, 14.836)  # from the first busy sample: the power reading still ramping
    assert accel.counter_j(energy, step) > 1.04 * (accel.integral_j(power, step) or 0)


def test_energy_outside_the_readings_or_a_reset_counter_is_none() -> None:
    points = [(0.0, 10.0), (1.0, 20.0), (2.0, 5.0)]
    assert accel.counter_j(points, (0.5, 1.5)) is None  # went backwards: driver reload
    assert accel.integral_j(points, (-1.0, 1.0)) is None
    assert accel.integral_j(points, (0.5, 1.5)) == pytest.approx(16.875)  # 8.75 + 8.125


def test_summary_over_the_busy_plateau_uses_the_counter() -> None:
    view = telemetry.summarise("nvml", trace_samples(), BUSY, output_tokens=100_000)
    assert view.source == "nvml" and view.energy_method == "counter" and view.devices == [0]
    assert view.util_mean_pct is not None and view.util_mean_pct > 98
    assert view.util_max_pct == 100 and view.memory_used_max_mb == 1753
    assert view.power_mean_w == pytest.approx(690, rel=0.01)
    assert view.energy_counter_j == pytest.approx(view.energy_integral_j, rel=0.02)
    assert view.energy_j == view.energy_counter_j and view.output_tokens == 100_000
    assert view.energy_per_token_j == pytest.approx(view.energy_j / 100_000)
    assert view.output_tok_per_j == pytest.approx(100_000 / view.energy_j)
    assert view.samples is not None and 60 <= view.samples <= 70
    assert view.interval_s == pytest.approx(0.104, abs=0.01)


def test_summary_without_a_counter_integrates_power() -> None:
    view = telemetry.summarise("npu-smi", trace_samples(energy=False), BUSY, 0)
    assert view.energy_method == "integral" and view.energy_counter_j is None
    assert view.energy_j == view.energy_integral_j and view.energy_per_token_j is None


def test_summary_of_nothing_is_empty() -> None:
    assert telemetry.summarise(None, [], None, 10).empty
    failing = [{"t": 0.0, "error": "timeout"}, {"t": 1.0, "error": "timeout"}]
    assert telemetry.summarise("nvidia-smi", failing, None, 10) == TelemetryView()


def test_sources_absent_here_are_none(monkeypatch: pytest.MonkeyPatch) -> None:
    """No NVML, nvidia-smi or npu-smi on this machine: absent, never an error."""
    monkeypatch.setattr(telemetry.shutil, "which", lambda name: None)
    monkeypatch.setitem(telemetry.OPENERS, "nvml", lambda: None)
    command = {"kind": "command", "argv": ["serve"]}
    scenario = factories.small_scenario(server=command)
    assert telemetry.open_source(scenario) is None
    sim = factories.small_scenario(validity={"telemetry": "auto"})
    monkeypatch.setitem(telemetry.OPENERS, "nvml", lambda: pytest.fail("sampled the sim"))
    assert telemetry.open_source(sim) is None


def test_watch_samples_in_a_thread_and_leaves_none_behind(tmp_path: Path) -> None:
    readings = iter(trace_samples())

    def read() -> list[dict]:
        return next(readings)["devices"] + [{"device": 7, "util": 0.0}]

    closed: list[bool] = []
    source = telemetry.Source("fake", read, lambda: closed.append(True))
    watch = telemetry.TelemetryWatch(source, [0], tmp_path, interval_s=0.05)
    before = set(threading.enumerate())
    watch.start()
    samples = watch.stop()
    assert set(threading.enumerate()) <= before and closed == [True]
    assert len(samples) >= 2 and all(s["devices"][0]["device"] == 0 for s in samples)
    assert all(len(s["devices"]) == 1 for s in samples)  # device 7 not the server's
    source_name, kept = telemetry.read_samples(tmp_path / telemetry.FILE)
    assert source_name == "fake" and kept == samples
    off = telemetry.TelemetryWatch(None, None, tmp_path / "none", 0.25)
    off.start()
    assert off.stop() == []
