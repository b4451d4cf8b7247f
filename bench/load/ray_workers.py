"""Load workers as Ray actors on the cluster's client nodes (`cluster: {engine: ray}`).

Each worker is an actor placed with the scenario's `cluster.resources` (by default
`{"vlm_bench_client": 1}`: one worker per node that advertises one) and the SPREAD
strategy; inside it a `LocalWorker` runs the same evalscope child as on this host, in a
temporary folder of that node. `RayWorker` gives the driver `LocalWorker`'s methods, so
bench/load/pool.py drives both alike. The worker's rows, barrier stamps and its whole
folder (tar bytes, kept verbatim under the run's raw/) come back through Ray's object
store: no shared file system is assumed.

ray is an optional dependency (`pip install 'vlm-bench[cluster]'`), imported only here
and only when a cluster is used; every node needs vlm-bench and evalscope installed.
"""

from __future__ import annotations

import contextlib
import io
import logging
import shutil
import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.errors import UserError
from bench.load.workers import LocalWorker, WorkerOutput, WorkerSpec
from bench.proc import FIRM

log = logging.getLogger(__name__)

PLACE_LIMIT_S = 120.0  # an actor that cannot be placed (no node with the resources)


def connect(address: str) -> Any:
    """ray, connected to the cluster at `address` (once per process); UserError when ray is
    missing or the cluster cannot be reached."""
    try:
        import ray
    except ImportError:
        raise UserError("cluster.engine ray needs ray: pip install 'vlm-bench[cluster]'") from None
    if not ray.is_initialized():
        try:
            ray.init(
                address=address,
                log_to_driver=False,
                logging_level=logging.WARNING,
                configure_logging=False,
            )
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise UserError(f"cluster.address {address}: cannot connect to Ray ({exc})") from None
    return ray


def tar_folder(folder: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(folder, arcname=".")
    return buf.getvalue()


def untar(data: bytes, folder: Path) -> None:
    """Unpack `tar_folder`'s bytes under `folder`; members leaving it are refused."""
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        tar.extractall(folder, filter="data")


class Agent:
    """The actor's body, on a client node: one `LocalWorker` in a temporary folder."""

    def __init__(self, spec: WorkerSpec, secrets: tuple[Sequence[str], Sequence[str]]) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix=f"vlm-bench-worker{spec.worker}-"))
        self.worker = LocalWorker(spec, self.folder, secrets)

    def start(self) -> bool:
        self.worker.start()
        return True

    def ready(self) -> bool:
        return self.worker.ready()

    def release(self, start_at: float) -> None:
        self.worker.release(start_at)

    def poll(self) -> int | None:
        return self.worker.poll()

    def progress(self) -> tuple[int, int]:
        return self.worker.progress()

    def stop(self, steps: Sequence[tuple[int, float]] = FIRM) -> None:
        self.worker.stop(steps)

    def collect(self) -> WorkerOutput:
        import ray

        out = self.worker.collect()
        out.files = tar_folder(self.folder)
        if "ready" in out.stamps:  # which node: hosts of one machine share a name
            node = ray.get_runtime_context().get_node_id()
            out.stamps["ready"]["host"] += f" (ray node {node[:8]})"
        shutil.rmtree(self.folder, ignore_errors=True)
        return out


class RayWorker:
    """A worker placed on the cluster; its folder is unpacked into `folder` here."""

    def __init__(
        self,
        ray: Any,
        spec: WorkerSpec,
        folder: Path,
        secrets: tuple[Sequence[str], Sequence[str]],
        resources: dict[str, float],
    ) -> None:
        self.ray, self.spec, self.folder = ray, spec, folder
        actor = ray.remote(Agent).options(
            num_cpus=0, resources=resources, scheduling_strategy="SPREAD"
        )
        self.actor = actor.remote(spec, secrets)
        self.exit_code: int | None = None

    def start(self) -> None:
        try:
            self.ray.get(self.actor.start.remote(), timeout=PLACE_LIMIT_S)
        except self.ray.exceptions.GetTimeoutError:
            raise UserError(
                f"load worker {self.spec.worker}: no Ray node with free cluster.resources "
                f"after {PLACE_LIMIT_S:g} s"
            ) from None

    def _call(self, method: str, *args: Any) -> Any:
        return self.ray.get(getattr(self.actor, method).remote(*args))

    def ready(self) -> bool:
        return bool(self._call("ready"))

    def release(self, start_at: float) -> None:
        self._call("release", start_at)

    def poll(self) -> int | None:
        if self.exit_code is None:
            try:
                self.exit_code = self._call("poll")
            except self.ray.exceptions.RayActorError as exc:
                log.warning("load worker %d: its actor died: %s", self.spec.worker, exc)
                self.exit_code = -1
        return self.exit_code

    def progress(self) -> tuple[int, int]:
        done, failed = self._call("progress")
        return int(done), int(failed)

    def stop(self, steps: Sequence[tuple[int, float]] = FIRM) -> None:
        # A lost actor's node or process is gone, and the child with it (PDEATHSIG, watchdog).
        with contextlib.suppress(self.ray.exceptions.RayActorError):
            self._call("stop", tuple(steps))

    def collect(self) -> WorkerOutput:
        try:
            out: WorkerOutput = self._call("collect")
        except self.ray.exceptions.RayActorError as exc:
            return WorkerOutput(self.spec, [], {}, self.exit_code, f"actor lost: {exc}")
        finally:
            self.ray.kill(self.actor)
        if out.files is not None:
            untar(out.files, self.folder)
            out.files = None
        return out
