"""Where a run came from, typed: `Provenance` is run.json's `provenance` block.

Written by bench.measure (provenance.collect when a run starts, then the server's side,
its pids and readiness, cache resets, the end time) and by bench.config.published (an
imported table has only `published`). Read by the report, compare, gate, release and the
store, through the fields here and `columns()`.

The recorded environment is kept as found: tools that are missing are recorded as
absent, never raised, so the free-form records (package versions, accelerator and Ascend
readings, the server's answers) stay mappings. A field not set is left out of run.json
(`to_dict` keeps exactly what was set, in this order: the order runs have always been
written in), and keys this version does not know are kept, so an older or newer
vlm-bench's provenance survives a rewrite.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, Strict

Text = Annotated[str, Strict()]
_INT = Annotated[int, Strict(), Field(ge=0, le=2**53)]


class _Record(BaseModel):
    model_config = ConfigDict(extra="allow")

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class Git(_Record):
    """The vlm-bench checkout: commit None when it is not a git checkout."""

    commit: Text | None = None
    dirty: Any = None


class Published(_Record):
    """An imported published table (bench/config/published.py)."""

    model_config = ConfigDict(extra="allow")

    source: Text
    table: Text
    sha256: Text
    scenario: Text
    metrics: list[Text]


class ServerSide(_Record):
    """What the server's own environment said (bench.measure.provenance.server_side):
    /version's answer (vLLM: {"version": "0.10.1"}; or a bare string), its packages."""

    version: Any = None
    packages: Any = None
    python: Text | None = None
    ascend: Any = None


class Provenance(_Record):
    """run.json's provenance. Fields in the order a run sets them."""

    published: Published | None = None
    host: Text | None = None
    platform: Text | None = None
    python: Text | None = None
    cpu: Text | None = None
    cpu_count: _INT | None = None
    packages: dict[str, Any] | None = None
    git: Git | None = None
    accelerators: dict[str, Any] | None = None
    ascend: dict[str, Any] | None = None
    server_argv: list[Text] | None = None
    server_env: dict[str, Any] | None = None
    # A `workload:` scenario's content hash of its sources plus its shape settings
    # (bench/workload/fingerprint.py): compare and gate refuse runs that differ in it.
    workload_fingerprint: Text | None = None
    started_at: Text | None = None
    resumed_at: list[Text] | None = None
    evalscope: Any = None
    server_pids: list[int] | None = None
    server_ready_s: list[float] | None = None
    server: ServerSide | None = None
    cache_reset: Any = None
    client_calibration: dict[str, Any] | None = None  # bench/measure/calibrate.py
    ended_at: Text | None = None

    def package(self, name: str) -> Any:
        """A client package's recorded version (None: not recorded or absent)."""
        return (self.packages or {}).get(name)

    def append(self, name: str, value: Any) -> None:
        """Add `value` to a list field (server_pids, server_ready_s, resumed_at), by
        assignment so that the field counts as set and is written."""
        setattr(self, name, [*(getattr(self, name) or []), value])


def server_version(prov: Provenance) -> str | None:
    """The serving engine's version as its /version answered it during the run; None when
    it was not asked (a published table) or did not answer."""
    answer = prov.server.version if prov.server else None
    if isinstance(answer, dict):
        answer = answer.get("version")
    return answer if isinstance(answer, str) and answer else None


def columns(prov: Provenance) -> dict[str, Any]:
    """The provenance a table of many runs keeps, flat: where, when, with what. The one
    place a store, an export or a dashboard reads a run's provenance from."""
    git = prov.git or Git()
    return {
        "host": prov.host,
        "started_at": prov.started_at,
        "ended_at": prov.ended_at,
        "commit": git.commit,
        "dirty": git.dirty if isinstance(git.dirty, bool) else None,
        "server_version": server_version(prov),
        "evalscope": prov.evalscope or prov.package("evalscope"),
        "vlm_bench": prov.package("vlm-bench"),
        "accelerators": json.dumps(prov.accelerators, sort_keys=True)
        if prov.accelerators
        else None,
        "published": prov.published is not None,
    }
