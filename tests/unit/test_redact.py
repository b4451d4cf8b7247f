"""bench/redact.py: what is a secret, what must stay readable, `${env:NAME}` references."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from bench.config.scenario import load_scenario
from bench.errors import UserError
from bench.redact import (
    REDACTED,
    missing_reference,
    redact_argv,
    redact_env,
    redact_scenario,
    redact_text,
    resolve,
    resolve_value,
    resolved_secrets,
    scrub_tree,
    secret_name,
)
from bench.schema.scenario import LATER_FIELDS, Scenario, scenario_hash
from bench.schema.scenario_workload import LATER_FIELDS as WORKLOAD_LATER_FIELDS

S = "CANARY-7f3a9c"
R = REDACTED


@pytest.mark.parametrize(
    "name",
    ["HF_TOKEN", "TOKEN_FILE", "hf_token2", "OPENAI_API_KEY", "apikey", "PGPASSWORD", "passwd",
     "AWS_SECRET_ACCESS_KEY", "--api-key", "--hf-token", "--auth", "Authorization",
     "Proxy-Authorization", "X-Api-Key", "Cookie", "GOOGLE_APPLICATION_CREDENTIALS"],
)  # fmt: skip
def test_secret_names(name):
    assert secret_name(name)


@pytest.mark.parametrize(
    "name",
    ["MAX_TOKENS", "--max-tokens", "--max-num-batched-tokens", "--tokenizer", "tokenizer_path",
     "TOKENIZERS_PARALLELISM", "--ssl-keyfile", "min_tokens", "PYTORCH_NPU_ALLOC_CONF",
     "--max-model-len", "Content-Type", "author"],
)  # fmt: skip
def test_settings_under_test_are_not_secrets(name):
    assert not secret_name(name)


def test_argv_all_shapes():
    argv = [
        "vllm", "serve", "--api-key", S, "--hf-token=" + S, "--auth", f"Bearer {S}",
        "-e", f"HF_TOKEN={S}", "--env", f"MY_PASSWORD={S}",
        "--header", f"Authorization: Bearer {S}", "--url", f"http://user:{S}@h:8000",
        "--max-num-batched-tokens", "8192", "--tokenizer", "/t", "-e", "A=1",
    ]  # fmt: skip
    out = redact_argv(argv)
    assert S not in json.dumps(out)
    assert out == [
        "vllm", "serve", "--api-key", R, "--hf-token=" + R, "--auth", R,
        "-e", f"HF_TOKEN={R}", "--env", f"MY_PASSWORD={R}",
        "--header", f"Authorization: {R}", "--url", f"http://{R}@h:8000",
        "--max-num-batched-tokens", "8192", "--tokenizer", "/t", "-e", "A=1",
    ]  # fmt: skip


def test_references_stay_visible():
    argv = ["--api-key", "${env:KEY}", "-e", "HF_TOKEN=${env:HF_TOKEN}", "--hf-token=${env:T}"]
    assert redact_argv(argv) == argv
    assert redact_env({"HF_TOKEN": "${env:HF_TOKEN}"}) == {"HF_TOKEN": "${env:HF_TOKEN}"}
    # a reference inside a longer literal is not a whole reference: the value goes
    assert redact_env({"HF_TOKEN": "x${env:A}"}) == {"HF_TOKEN": R}


def test_env_and_text():
    env = {"HF_TOKEN": S, "MAX_TOKENS": "512", "TOKENIZERS_PARALLELISM": "false", "X": "1"}
    assert redact_env(env) == {**env, "HF_TOKEN": R}
    assert redact_text(f"curl -H 'Authorization: Bearer {S}' http://u:p@h/x") == (
        f"curl -H 'Authorization: Bearer {R}' http://{R}@h/x"
    )
    assert redact_text(f"value {S} here", secrets={S}) == f"value {R} here"
    # prose is not a credential
    assert redact_text("Basic shapes; Token counts; bearer of news") == (
        "Basic shapes; Token counts; bearer of news"
    )


def _canary_scenario() -> Scenario:
    return Scenario.model_validate(
        {
            "name": "s",
            "model": {"served_name": "m", "tokenizer_path": "generated"},
            "server": {
                "kind": "docker",
                "image": "img",
                "env": {"HF_TOKEN": S, "REF_TOKEN": "${env:HF}", "MAX_TOKENS": "512"},
                "docker_args": ["-e", f"OTHER_TOKEN={S}"],
                "vllm": {"model": "/m", "args": {"api-key": S, "max-num-batched-tokens": 8192}},
            },
            "load": {"api_key": S, "headers": {"Cookie": S, "X-Trace": "abc"}},
            "offline": {"engine_args": {"hf_token": S, "max_model_len": 16384}},
            "sweep": {"parallel": [1], "number": [2]},
        }
    )


def test_redact_scenario_covers_every_field():
    data = redact_scenario(_canary_scenario().model_dump(mode="json"))
    assert S not in json.dumps(data)
    assert data["server"]["env"] == {"HF_TOKEN": R, "REF_TOKEN": "${env:HF}", "MAX_TOKENS": "512"}
    assert data["server"]["vllm"]["args"] == {"api-key": R, "max-num-batched-tokens": 8192}
    assert data["load"]["headers"] == {"Cookie": R, "X-Trace": "abc"}
    assert data["offline"]["engine_args"] == {"hf_token": R, "max_model_len": 16384}


def test_scenarios_without_secrets_are_unchanged_and_keep_their_hash():
    """The hash is of the redacted scenario, minus the unset key fields: a scenario with no
    secret hashes as it did before bench/redact.py existed."""
    import hashlib

    paths = sorted((Path(__file__).parents[2] / "scenarios").glob("*.yaml"))
    assert paths
    for path in paths:
        scenario = load_scenario(path)
        data = scenario.model_dump(mode="json")
        assert redact_scenario(data) == data, path
        for (section, key), default in LATER_FIELDS.items():  # added later: out at default
            where = data[section] if section else data
            if where.get(key) == default:
                where.pop(key, None)
        for key, default in WORKLOAD_LATER_FIELDS.items():  # the same inside `workload:`
            if isinstance(data.get("workload"), dict) and data["workload"].get(key) == default:
                data["workload"].pop(key)
        old = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]
        assert scenario_hash(scenario) == old, path


def test_hash_hides_the_secret_and_keeps_the_reference():
    a = _canary_scenario()
    b = a.model_copy(update={"load": a.load.model_copy(update={"api_key": "other-key-123"})})
    assert scenario_hash(a) == scenario_hash(b)  # a rotated key is the same benchmark
    c = a.model_copy(update={"load": a.load.model_copy(update={"api_key": "${env:K}"})})
    assert scenario_hash(c) != scenario_hash(a)


def test_references_resolve_and_missing_ones_are_named():
    env = {"HF": S}
    assert resolve("Bearer ${env:HF}", env) == f"Bearer {S}"
    assert resolve_value({"a": ["${env:HF}", 1]}, env) == {"a": [S, 1]}
    data = {"server": {"env": {"T": "${env:HF}"}}, "load": {"api_key": "${env:NOPE}"}}
    assert missing_reference(data, env) == "load.api_key: ${env:NOPE} is not set in the environment"
    assert missing_reference({"x": "${env:HF}"}, env) is None
    assert resolved_secrets(data, env) == {S}


def test_scrub_tree_keeps_sqlite_readable(tmp_path):
    db = tmp_path / "level" / "benchmark_data.db"
    db.parent.mkdir()
    with closing(sqlite3.connect(db)) as con:
        con.execute("CREATE TABLE result (request TEXT, success INTEGER)")
        con.execute("INSERT INTO result VALUES (?, 1)", (f'{{"key": "{S}"}}',))
        con.commit()
    (tmp_path / "level" / "benchmark_args.json").write_text(json.dumps({"headers": {"C": S}}))
    (tmp_path / "level" / "short.txt").write_text("abc")
    scrub_tree(tmp_path, [S, "abc"])
    for path in (tmp_path / "level").iterdir():
        assert S.encode() not in path.read_bytes()
    assert (tmp_path / "level" / "short.txt").read_text() == "abc"  # too short to scrub
    with closing(sqlite3.connect(db)) as con:
        assert con.execute("SELECT COUNT(*) FROM result").fetchone() == (1,)


def test_url_with_credentials_is_refused_without_echoing_them(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: s\nmodel: {served_name: m, tokenizer_path: generated}\n"
        f"server: {{kind: external, url: 'http://user:{S}@127.0.0.1:8000'}}\n"
        "sweep: {parallel: [1], number: [1]}\n"
    )
    with pytest.raises(UserError) as exc:
        load_scenario(path)
    message = str(exc.value)
    assert "server.url" in message and "load.api_key" in message
    assert S not in message and "\n" not in message


def test_resume_refuses_a_scenario_whose_secrets_were_redacted(tmp_path):
    """Regression: a literal secret is redacted in run.json, so --resume would have started
    the server with '<redacted>' as its token; it must say why it cannot instead."""
    from bench.measure import sweep as runner
    from bench.schema.results import RunResult
    from bench.schema.runwrite import write_run

    scenario = _canary_scenario()
    # Written as a run keeps it: the scenario model, redacted on write (RunResult.to_dict).
    write_run(RunResult("r", "s", scenario, scenario_hash(scenario), {}), tmp_path)
    with pytest.raises(UserError, match=r"\$\{env:NAME\} references"):
        runner.scenario_of(tmp_path)


def test_keys_reach_requests_and_evalscope_but_not_its_argv(monkeypatch, tmp_path):
    from bench.load import evalscope as loadgen
    from bench.load.plan import plan_level
    from bench.schema.plan import SweepLevel
    from bench.serve import server

    monkeypatch.setenv("HF", "from-env-123")
    scenario = _canary_scenario()
    load = scenario.load.model_copy(update={"api_key": "${env:HF}"})
    scenario = scenario.model_copy(update={"load": load})
    assert server.request_headers(scenario) == {
        "Cookie": S,
        "X-Trace": "abc",
        "Authorization": "Bearer from-env-123",
    }
    plan = plan_level(scenario, tmp_path, SweepLevel(1, 1, 1, 2))
    argv = loadgen.level_argv(scenario, "http://h:1", "/t", plan, tmp_path)
    assert S not in json.dumps(argv) and "from-env-123" not in json.dumps(argv)
    assert loadgen.secret_args(scenario) == [
        "--api-key", "from-env-123", "--headers", f"Cookie={S}", "X-Trace=abc",
    ]  # fmt: skip
    assert loadgen.secret_args(scenario, resolved=False)[1] == "${env:HF}"
    # scrubbed from raw files: the key and secret-named headers, not X-Trace's value
    assert loadgen.secret_values(scenario) == ["from-env-123", S]


# ---- sinks (Step 18): one redaction where text leaves the process -----------------------


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (f"ray://admin:{S}@head:10001", "ray://<redacted>@head:10001"),
        (f"postgresql://u:{S}@db:5432/x", "postgresql://<redacted>@db:5432/x"),
        (f"redis://:{S}@cache:6379/0", "redis://<redacted>@cache:6379/0"),
        (f"https://u:p@{S}@host/v1", "https://<redacted>@host/v1"),  # '@' in the password
        (f"connect to 'http://u:{S}@h:1'. Fix it", "connect to 'http://<redacted>@h:1'. Fix it"),
        (f"dsn?user=u&password={S}&x=1", "dsn?user=u&password=<redacted>&x=1"),
        (f"PGPASSWORD={S} psql", "PGPASSWORD=<redacted> psql"),
    ],
)
def test_scrub_knows_url_credentials_in_any_scheme(text, kept):
    from bench.redact import scrub

    assert scrub(text) == kept


def test_scrub_keeps_json_valid_and_settings_readable():
    from bench.redact import scrub

    doc = json.dumps({"a": f"ray://u:{S}@h:1", "b": "x@y", "c": "--set KEY=VALUE max_tokens=5"})
    out = json.loads(scrub(doc))
    assert out == {"a": "ray://<redacted>@h:1", "b": "x@y", "c": "--set KEY=VALUE max_tokens=5"}


def test_declared_secrets_are_scrubbed_bare_and_inside_json():
    """A library's exception may quote a secret with no URL or name around it."""
    from bench.redact import declare, scrub, secrets_in

    odd = S + '-with"quote'
    declare(secrets_in({"cluster": {"address": f"ray://u:{S}-pw@h:1"}, "load": {"api_key": odd}}))
    assert S + "-pw" not in scrub(f"auth failed for {S}-pw")
    assert S not in scrub(json.dumps({"x": f"bad key {odd}"}))
    declare(["short"])  # too short to scrub innocent text
    assert scrub("a short line") == "a short line"


def test_the_console_is_a_sink(tmp_path, capsys):
    """Regression (Step 18): `fleet --address ray://admin:PASSWORD@…` printed the password
    twice on stderr (the address, and Ray's exception text quoting it)."""
    from tests.support.cli import assert_one_line, run_cli

    pytest.importorskip("ray")
    (tmp_path / "s.yaml").write_text(
        "name: s\nmodel: {served_name: m, tokenizer_path: generated}\n"
        "server: {kind: sim, profile: fast}\nsweep: {parallel: [1], number: [1]}\n"
    )
    plan = tmp_path / "plan.yaml"
    plan.write_text(f"address: 'http://u:{S}x@127.0.0.1:1'\nscenarios: [s.yaml]\n")
    for extra in ([], ["--address", f"ray://admin:{S}y@127.0.0.1:1"]):
        code, out, err = run_cli(capsys, "fleet", str(plan), *extra)
        assert_one_line(code, err, "cannot connect to Ray")
        assert S not in out + err and "<redacted>" in err


def test_run_url_with_credentials_is_one_line_without_them(capsys):
    """Regression (Step 18): `run --url http://user:pw@…` said 'Name or service not known'
    instead of refusing credentials it will not send."""
    from tests.support.cli import assert_one_line, run_cli

    code, _, err = run_cli(capsys, "run", "--url", f"http://user:{S}@127.0.0.1:9")
    assert_one_line(code, err, "credentials in the URL")
    assert "load.api_key" in err and S not in err
