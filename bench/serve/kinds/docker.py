"""`server.kind: docker`: the server's command inside a container (`docker run --rm`), its
port published on host loopback; stopped with `docker stop` and `docker rm`."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import cast

from bench.redact import is_reference, secret_name
from bench.schema.scenario import Scenario
from bench.schema.scenario_server import DockerServer
from bench.serve.kinds.base import ServerHandle, ServerKind


def docker_argv(spec: DockerServer, scenario_name: str) -> list[str]:
    """`docker run` for the scenario: devices, mounts, env, the port on host loopback."""
    name = spec.container_name or f"vlm-bench-{scenario_name}"
    argv = ["docker", "run", "--rm", "--name", name]
    for dev in spec.devices:
        argv += ["--device", dev]
    for vol in spec.volumes:
        argv += ["-v", vol]
    for key, value in spec.env.items():
        # A secret goes by name only: docker reads its value from its own environment
        # (the launcher's `env`), so it never shows in the process list.
        secret = secret_name(key) or is_reference(value)
        argv += ["-e", key if secret else f"{key}={value}"]
    if spec.shm_size:
        argv += ["--shm-size", spec.shm_size]
    argv += ["-p", f"{spec.host}:{spec.port}:{spec.port}", *spec.docker_args, spec.image]
    return [*argv, *spec.command()]


class DockerKind(ServerKind):
    """`docker run` in the foreground as the child; the container is named, so it can be
    stopped (and its packages asked for provenance) by name."""

    name = "docker"

    def argv(self, scenario: Scenario, tokenizer: str, run_dir: Path) -> list[str]:
        spec = cast(DockerServer, scenario.server)  # the registry gives it only its own kind
        return docker_argv(spec, scenario.name)

    def after_spawn(self, handle: ServerHandle, run_dir: Path) -> None:
        handle.container = handle.argv[handle.argv.index("--name") + 1]

    def stop(self, handle: ServerHandle) -> None:
        if handle.container:
            for cmd in (
                ["docker", "stop", "-t", "10", handle.container],
                ["docker", "rm", "-f", handle.container],
            ):
                subprocess.run(cmd, capture_output=True, timeout=60, check=False)
        super().stop(handle)
