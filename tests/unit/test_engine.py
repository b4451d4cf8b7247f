"""The timing model in simulated time: exact costs, batching limits, queueing."""

from __future__ import annotations

import pytest

from bench.sim.engine import Engine, FrontEnd, Sequence
from bench.sim.profile import Profile
from bench.sim.virtual import run_closed_loop


def profile(**kw: object) -> Profile:
    base: dict[str, object] = dict(
        decode_base_s=0.010, decode_per_seq_s=0.001, prefill_per_token_s=0.0001, per_image_s=0.02
    )
    base.update(kw)
    return Profile.model_validate(base)


def drive(engine: Engine, seqs: list[Sequence]) -> float:
    """Run the engine to completion with all `seqs` present at t=0; returns the end time."""
    now = 0.0
    for s in seqs:
        engine.add(s)
    while engine.has_work():
        step = engine.schedule(now)
        now += step.duration_s
        engine.complete(step, now)
    return now


def test_single_request_ttft_is_one_prefill_step_and_tpot_one_decode_step() -> None:
    p = profile()
    seq = Sequence(1, prompt_tokens=100, images=1, target_tokens=5, arrival=0.0)
    end = drive(Engine(p), [seq])
    ttft = 0.010 + 100 * 0.0001 + 0.02
    assert seq.first_token == pytest.approx(ttft)
    assert end == pytest.approx(ttft + 4 * (0.010 + 0.001))
    assert seq.output_tokens == 5


def test_decode_cost_grows_with_the_running_batch() -> None:
    p = profile(prefill_per_token_s=0.0, per_image_s=0.0)
    seqs = [Sequence(i, 10, 0, 3, 0.0) for i in range(4)]
    end = drive(Engine(p), seqs)
    # One prefill step for all four (same budget), then two decode steps of batch 4.
    assert end == pytest.approx(0.010 + 2 * (0.010 + 4 * 0.001))
    assert [s.first_token for s in seqs] == pytest.approx([0.010] * 4)


def test_token_budget_splits_prefill_across_steps() -> None:
    p = profile(prefill_per_token_s=0.0, per_image_s=0.0, max_num_batched_tokens=150)
    a, b = Sequence(1, 100, 0, 2, 0.0), Sequence(2, 100, 0, 2, 0.0)
    drive(Engine(p), [a, b])
    # Step 1: a (100) + 50 of b. Step 2: a decodes, b finishes its prefill.
    assert a.first_token == pytest.approx(0.010)
    assert b.first_token == pytest.approx(0.010 + 0.010 + 0.001)


def test_max_num_seqs_makes_a_waiting_queue() -> None:
    p = profile(prefill_per_token_s=0.0, per_image_s=0.0, decode_per_seq_s=0.0, max_num_seqs=2)
    seqs = [Sequence(i, 10, 0, 3, 0.0) for i in range(3)]
    drive(Engine(p), seqs)
    assert seqs[0].admitted == seqs[1].admitted == 0.0
    # The third waits until a slot frees: after the first two finish their 3 steps.
    assert seqs[2].admitted == pytest.approx(0.030)


def test_kv_budget_holds_back_admission() -> None:
    p = profile(kv_cache_tokens=250, prefill_per_token_s=0.0, per_image_s=0.0)
    a, b = Sequence(1, 100, 0, 50, 0.0), Sequence(2, 100, 0, 50, 0.0)
    engine = Engine(p)
    engine.add(a)
    engine.add(b)
    step = engine.schedule(0.0)
    assert [s for s, _ in step.prefill] == [a]
    assert engine.kv_reserved == 150


def test_cold_image_cost_is_paid_once() -> None:
    p = profile(cold_image_s=[1.0])
    first, second = Sequence(1, 10, 1, 1, 0.0), Sequence(2, 10, 1, 1, 0.0)
    engine = Engine(p)
    drive(engine, [first])
    t0 = first.finished
    assert t0 is not None and t0 > 1.0
    engine.add(second)
    step = engine.schedule(0.0)
    assert step.duration_s < 0.1


def test_time_scale_multiplies_every_step() -> None:
    seq_a, seq_b = Sequence(1, 100, 1, 4, 0.0), Sequence(1, 100, 1, 4, 0.0)
    slow = drive(Engine(profile()), [seq_a])
    fast = drive(Engine(profile(time_scale=0.1)), [seq_b])
    assert fast == pytest.approx(slow * 0.1)


def test_jitter_is_seeded_and_mean_preserving() -> None:
    p = profile(jitter=0.1, prefill_per_token_s=0.0, per_image_s=0.0)

    def durations(seed: int) -> list[float]:
        engine = Engine(p, seed)
        engine.add(Sequence(1, 1, 0, 5000, 0.0))
        out = []
        for _ in range(4000):
            step = engine.schedule(0.0)
            out.append(step.duration_s)
            engine.complete(step, 0.0)
        return out

    a, b = durations(1), durations(1)
    assert a == b
    assert a != durations(2)
    assert sum(a) / len(a) == pytest.approx(0.011, rel=0.01)


def test_frontend_is_serial() -> None:
    fe = FrontEnd(profile(frontend_per_image_s=0.1))
    assert [fe.ready_time(0.0, 1) for _ in range(3)] == pytest.approx([0.1, 0.2, 0.3])
    assert fe.ready_time(5.0, 2) == pytest.approx(5.2)
    assert fe.ready_time(5.0, 0) == 5.0


def test_frontend_slows_down_with_running_sequences() -> None:
    fe = FrontEnd(profile(frontend_per_image_s=0.1, frontend_per_running_s=0.01))
    assert fe.ready_time(0.0, 1, running=0) == pytest.approx(0.1)
    assert fe.ready_time(0.0, 1, running=5) == pytest.approx(0.1 + 0.15)


def test_abort_frees_the_slot_and_emits_nothing_more() -> None:
    p = profile()
    engine = Engine(p)
    seq = Sequence(1, 10, 0, 100, 0.0)
    engine.add(seq)
    step = engine.schedule(0.0)
    engine.abort(seq)
    assert engine.complete(step, 1.0) == []
    assert not engine.has_work() and engine.kv_reserved == 0


def test_closed_loop_at_parallel_one_matches_the_formula() -> None:
    p = profile()
    level = run_closed_loop(
        p, Engine(p), parallel=1, number=3, prompt_tokens=200, images=1, output_tokens=10
    )
    for r in level.requests:
        assert r.ttft == pytest.approx(0.010 + 200 * 0.0001 + 0.02)
        assert r.tpot == pytest.approx(0.011)
    assert level.duration_s == pytest.approx(3 * (0.050 + 9 * 0.011))
