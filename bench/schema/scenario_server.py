"""The scenario's `server:` section: how the server under test is started (the simulator, a
command, a container) or reached (an external URL), and what to do when it dies.

Each kind's fields are a model here, in the `Server` union (a stored run.json is validated
against it), with its `Capabilities`: what the measure and report layers may ask of a
server without knowing its kind (reports read stored runs and sit below bench/serve/, so
the answers live with the fields). How a kind starts, gets ready and stops is its module
in bench/serve/kinds/.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    Field,
    NonNegativeInt,
    PositiveFloat,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bench.schema.scenario_base import MAX_NUMBER, MAX_SEED, MAX_TIMEOUT_S, Strict

PROFILES = "profiles"  # validation-context key: the simulator's built-in profile names


class VllmServe(Strict):
    """`vllm serve MODEL --flag value …`, flags in the order given."""

    executable: list[str] = Field(default_factory=lambda: ["vllm", "serve"], min_length=1)
    model: str = Field(min_length=1)
    args: dict[str, str | int | float | bool | None] = Field(default_factory=dict)

    def argv(self) -> list[str]:
        out = [*self.executable, self.model]
        for flag, value in self.args.items():
            name = flag if flag.startswith("-") else f"--{flag}"
            if value is True or value is None:
                out.append(name)
            elif value is not False:
                out += [name, str(value)]
        return out


@dataclass(frozen=True)
class Capabilities:
    """What a server kind can expose; the questions asked instead of testing its kind."""

    simulator: bool = False  # the reference simulator: its times are a model's
    samples_accelerators: bool = True  # `validity.telemetry: auto` samples this host's
    calibrates_by_default: bool = True  # `load.calibrate: auto` calibrates the client
    started_by_us: bool = True  # vlm-bench starts and stops it (else it attaches)


class ServerSpec(Strict):
    capabilities: ClassVar[Capabilities] = Capabilities()

    env: dict[str, str] = Field(default_factory=dict)
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    ready_timeout_s: PositiveFloat = Field(600.0, le=MAX_TIMEOUT_S)
    warmup_requests: NonNegativeInt = Field(
        0,
        le=MAX_NUMBER,
        description="unmeasured requests (one image each) once the server is ready",
    )
    on_death: Literal["stop", "restart"] = Field(
        "stop", description="a server that dies mid-sweep: stop, or restart and retry the level"
    )

    def simulated_time_scale(self) -> float | None:
        """The factor by which its clock runs faster than the hardware it models (None:
        real time, or a scale of 1)."""
        return None


class SimServer(ServerSpec):
    capabilities: ClassVar[Capabilities] = Capabilities(
        simulator=True, samples_accelerators=False, calibrates_by_default=False
    )

    kind: Literal["sim"]
    port: int = Field(0, ge=0, le=65535, description="0 = any free port")
    profile: str = Field("fast", description="built-in profile name, or a YAML file")
    time_scale: PositiveFloat | None = Field(None, le=1000.0)
    seed: int = Field(0, ge=0, le=MAX_SEED)
    args: list[str] = Field(default_factory=list, description="extra `vlm-bench sim` flags")

    @field_validator("profile")
    @classmethod
    def _known_profile(cls, value: str, info: ValidationInfo) -> str:
        # The simulator would refuse it only after the run has started (exit 1). The names
        # come in the validation context (`PROFILES`) from bench/config/, which may import
        # the simulator; a stored run is not re-checked against today's profiles.
        names = (info.context or {}).get(PROFILES)
        if names is None:
            return value
        if Path(value).suffix:  # a file, as `vlm-bench sim --profile` reads it
            if not Path(value).is_file():
                raise ValueError(f"profile file {value} does not exist")
        elif value not in names:
            raise ValueError(f"unknown profile {value!r}; built-in: {', '.join(names)}")
        return value

    def simulated_time_scale(self) -> float | None:
        return self.time_scale if self.time_scale not in (None, 1, 1.0) else None


class CommandServer(ServerSpec):
    kind: Literal["command"]
    argv: list[str] | None = Field(None, min_length=1)
    vllm: VllmServe | None = None

    @model_validator(mode="after")
    def _one_command(self) -> CommandServer:
        if (self.argv is None) == (self.vllm is None):
            raise ValueError("give exactly one of argv and vllm")
        return self

    def command(self) -> list[str]:
        return self.argv if self.argv is not None else self.vllm.argv()  # type: ignore[union-attr]


class DockerServer(CommandServer):
    kind: Literal["docker"]  # type: ignore[assignment]
    image: str = Field(min_length=1)
    devices: list[str] = Field(default_factory=list)
    volumes: list[str] = Field(default_factory=list, description="host:container[:ro]")
    container_name: str | None = None
    shm_size: str | None = None
    docker_args: list[str] = Field(default_factory=list, description="more `docker run` flags")


class ExternalServer(ServerSpec):
    capabilities: ClassVar[Capabilities] = Capabilities(started_by_us=False)

    kind: Literal["external"]
    url: str = Field(pattern=r"^https?://[^/]+$", description="base URL, e.g. http://10.0.0.5:8000")
    on_death: Literal["stop"] = Field("stop", description="vlm-bench cannot restart it")

    @field_validator("url", mode="before")
    @classmethod
    def _no_userinfo(cls, value: Any) -> Any:
        # Credentials in a URL are printed and stored with it, and readiness probes fail on
        # them anyway; the message must not echo them.
        if isinstance(value, str) and "@" in value.split("://", 1)[-1].split("/", 1)[0]:
            raise ValueError(
                "credentials in the URL (user:password@) are refused: give the key as "
                "load.api_key or load.headers, e.g. api_key: ${env:OPENAI_API_KEY}"
            )
        return value


Server = Annotated[
    SimServer | CommandServer | DockerServer | ExternalServer, Field(discriminator="kind")
]
