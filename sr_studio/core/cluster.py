"""Batches on a Dask distributed cluster: `--cluster local:N` (N worker processes on this machine) or
`--cluster ADDRESS` (a running scheduler's, e.g. tcp://10.0.0.5:8786).

The client plans the batch as usual and submits one task per file; each worker process loads the model once
(a cache keyed by the weights file and its sha256), runs the plain batch's own per-file step
(core/batch_file) and writes atomically into the shared output folder, and its file's fate comes back to
the client, which yields the usual `Progress` events and fills the usual report. A worker killed mid-file
has its task rerun elsewhere by Dask (the rerun first removes the dead writer's temp file); a file whose
task keeps killing workers becomes that file's failure. Cancel sets a Dask Event that each worker's cancel
token polls (at most every `POLL_S`), so a running file stops between tiles, and cancels the futures.

Dask is imported here only, and only when a cluster batch runs: without it a one-line usage error names the
`cluster` extra. Workers need this package installed and must reach the inputs, the output folder and the
model's weights file at the same paths as the client (shared storage).
"""

from __future__ import annotations

import logging
import os
import re
import signal
import threading
import time
import uuid
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sr_studio.core.batch_file import FAILED, FileFate, existing_fate, upscale_fate
from sr_studio.core.errors import Cancelled, SRStudioError, UsageError, first_line
from sr_studio.core.jobs import CancelToken, Progress, check_cancel, run_job

if TYPE_CHECKING:
    from sr_studio.core.batch import BatchItem, BatchReport, OutputOptions
    from sr_studio.core.library import LoadedModel, ModelEntry

POLL_S = 0.5  # how often a worker's cancel token asks the scheduler
WAIT_S = 0.1  # how often the client looks for fates and at its cancel token
CONNECT_S = 20  # seconds to reach a remote scheduler
LOCAL_ALLOWED_FAILURES = 1  # local cluster: a file whose task kills 2 workers is that file's failure
MODELS_KEPT = 2  # models a worker process keeps loaded
_LOCAL = re.compile(r"local:(\d+)")


@dataclass(frozen=True)
class ClusterSpec:
    """Where a batch runs: `workers` local processes (address None), or a scheduler's address."""

    address: str | None
    workers: int = 0


def parse_cluster(text: str) -> ClusterSpec:
    """Read `local:N` (N >= 1) or a scheduler address; refuse a malformed local spec up front."""
    text = text.strip()
    match = _LOCAL.fullmatch(text)
    if match is not None and int(match.group(1)) >= 1:
        return ClusterSpec(None, int(match.group(1)))
    if text.startswith("local") or not text:
        raise UsageError(f"--cluster must be local:N (N at least 1) or a scheduler address, not {text!r}")
    return ClusterSpec(text)


def local_threads(workers: int) -> int:
    """Torch threads for each of `workers` local worker processes: the machine's cores, shared out."""
    return max(1, (os.cpu_count() or 1) // workers)


def distributed_module() -> Any:
    """Dask distributed, or a usage error naming the extra that installs it."""
    try:
        import distributed
    except ImportError:
        raise UsageError(
            "--cluster needs Dask distributed, which is not installed: pip install 'sr-studio[cluster]'"
        ) from None
    return distributed


@contextmanager
def connect(spec: ClusterSpec) -> Iterator[tuple[Any, int | None]]:
    """A Dask client for `spec`, and the torch threads each worker should use (None: the worker's own).

    A local cluster listens on loopback only, has no dashboard, runs one file at a time per process (and
    queues no other on it, so a worker's death casts suspicion on that file alone), and is closed on the way
    out; a remote one keeps its own settings and is only disconnected from.
    """
    distributed = distributed_module()
    if spec.address is not None:
        try:
            client = distributed.Client(spec.address, timeout=CONNECT_S)
        except (OSError, TimeoutError, ValueError) as error:
            raise SRStudioError(
                f"cannot reach the Dask scheduler: {first_line(error)}", spec.address
            ) from None
        try:
            yield client, None
        finally:
            client.close()
        return
    import dask

    local = {
        "distributed.scheduler.allowed-failures": LOCAL_ALLOWED_FAILURES,
        "distributed.scheduler.worker-saturation": 1.0,  # a worker holds only the file it runs
    }
    with dask.config.set(local):
        cluster = distributed.LocalCluster(
            n_workers=spec.workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=logging.CRITICAL,
            preload=[__name__],  # dask_setup below, in each worker process
        )
    try:
        with distributed.Client(cluster) as client:
            yield client, local_threads(spec.workers)
    finally:
        cluster.close()


def cluster_request_job(
    address: str,
    jobs: Sequence[tuple[BatchItem, Path]],
    entry: ModelEntry,
    options: OutputOptions,
    **policy: Any,
) -> Generator[Progress, None, BatchReport]:
    """Start or reach the cluster `address` names and run the batch there (`batch_job`'s policy)."""
    spec = parse_cluster(address)
    yield Progress(0, len(jobs), "files", None, {"file_fraction": 0.0, "part": "starting the cluster"})
    if not jobs:
        return _report({}, 0.0)
    with connect(spec) as (client, threads):
        check_cancel(policy.get("cancel"))
        return (yield from cluster_batch_job(jobs, entry, options, client=client, threads=threads, **policy))


@dataclass(frozen=True)
class _Policy:
    """What every task needs besides its file: the engine policy and the batch's cancel Event."""

    device: str
    precision: str
    tile: int | str | None
    ensemble: bool
    backend: str
    max_pixels: int
    threads: int | None
    stop: str  # the name of the Dask Event that cancels the batch


def cluster_batch_job(
    jobs: Sequence[tuple[BatchItem, Path]],
    entry: ModelEntry,
    options: OutputOptions,
    *,
    client: Any,
    threads: int | None,
    device: str = "auto",
    precision: str = "auto",
    tile: int | str | None = "auto",
    max_pixels: int,
    ensemble: bool = False,
    cancel: CancelToken | None = None,
    backend: str = "auto",
    record: Callable[[FileFate], None] | None = None,
) -> Generator[Progress, None, BatchReport]:
    """Run each (input, output path) pair as one task on `client`'s cluster; fates arrive in any order,
    each as one progress event, and the report lists them in the plan's order."""
    distributed = distributed_module()
    batch = uuid.uuid4().hex
    stop = distributed.Event(f"sr-studio-cancel-{batch}", client=client)
    policy = _Policy(device, precision, tile, ensemble, backend, max_pixels, threads, stop.name)
    started = time.perf_counter()
    futures = {
        client.submit(
            run_file, item, target, entry, options, policy, key=f"sr-studio-{batch}-{index}", pure=False
        ): index
        for index, (item, target) in enumerate(jobs)
    }
    pending = set(futures)
    completed = distributed.as_completed(list(futures))  # event-driven: no scan of every pending future
    fates: dict[int, FileFate] = {}
    try:
        while pending:
            check_cancel(cancel)
            ready = completed.next_batch(block=False)
            if not ready:
                time.sleep(WAIT_S)
                continue
            for future in ready:
                pending.discard(future)
                index = futures[future]
                item, target = jobs[index]
                fate = fates[index] = _fate_of(future, item, target, distributed)
                future.release()
                if record is not None:
                    record(fate)
                elapsed = time.perf_counter() - started
                eta = elapsed / len(fates) * (len(jobs) - len(fates))
                info = {"file": str(item.source), "output": str(target), **fate.info(), "file_fraction": 1.0}
                yield Progress(len(fates), len(jobs), "files", eta, info)
    except BaseException:  # cancelled, interrupted or abandoned: stop the workers' files too
        _stop(stop, client, pending)
        raise
    return _report(fates, time.perf_counter() - started)


def _stop(stop: Any, client: Any, pending: set[Any]) -> None:
    """Tell running files to stop between tiles and drop the queued ones (best effort: the cluster may
    already be gone)."""
    try:
        stop.set()
        client.cancel(list(pending))
    except Exception:  # a cluster that is gone has nothing left to stop
        return


def _report(fates: dict[int, FileFate], seconds: float) -> BatchReport:
    from sr_studio.core.batch import BatchReport

    report = BatchReport()
    for index in sorted(fates):
        report.add(fates[index])
    report.seconds = seconds
    return report


def _fate_of(future: Any, item: BatchItem, target: Path, distributed: Any) -> FileFate:
    """The fate a task returned, or the failure that ended it on the cluster."""
    if future.status == "cancelled":
        return FileFate(FAILED, item.source, target, reason="its task was lost on the cluster: run again")
    try:
        fate: FileFate = future.result()
    except distributed.KilledWorker:
        reason = "every worker that ran it died (killed, or out of memory): run it alone to see why"
        return FileFate(FAILED, item.source, target, reason=reason)
    except Exception as error:
        reason = f"on the cluster: {type(error).__name__}: {first_line(error)}"
        return FileFate(FAILED, item.source, target, reason=reason)
    return fate


# --- on the worker ---------------------------------------------------------------------------------------

_MODELS: dict[tuple[str, str], LoadedModel] = {}
_LOADING = threading.Lock()


def dask_setup(worker: Any) -> None:
    """Dask's preload hook, run as each local worker process starts: Ctrl+C in a terminal reaches the whole
    process group, and the client alone answers it (it cancels the batch and closes the cluster), so the
    workers ignore it instead of each printing a traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def run_file(
    item: BatchItem, target: Path, entry: ModelEntry, options: OutputOptions, policy: _Policy
) -> FileFate:
    """One task: the plain batch's per-file step, on a worker, with the model this process keeps."""
    fate = existing_fate(item, target, entry.name, options)
    if fate is not None:
        return fate
    try:
        model = _worker_model(entry, policy.threads)
    except SRStudioError as error:
        return FileFate(FAILED, item.source, target, reason=f"on worker: {error}")
    run = dict(
        device=policy.device,
        precision=policy.precision,
        tile=policy.tile,
        ensemble=policy.ensemble,
        cancel=_EventCancel(policy.stop),
        backend=policy.backend,
    )
    return run_job(upscale_fate(item, target, model, options, run, policy.max_pixels))


def _worker_model(entry: ModelEntry, threads: int | None) -> LoadedModel:
    """The loaded model for `entry`, once per process; its weights are checked against the card's sha256
    when first loaded, from the path the client named."""
    from sr_studio.core.library import ModelLibrary

    key = (str(entry.weights_path), entry.card.sha256)
    with _LOADING:
        if threads is not None:
            import torch

            if torch.get_num_threads() != threads:
                torch.set_num_threads(threads)
        model = _MODELS.get(key)
        if model is None:
            folder = entry.weights_path.parent
            model = ModelLibrary(builtin_dir=folder, user_dir=folder).load(entry)
            while len(_MODELS) >= MODELS_KEPT:
                _MODELS.pop(next(iter(_MODELS)))
            _MODELS[key] = model
    return model


class _EventCancel(CancelToken):
    """A cancel token that is also set by the batch's Dask Event, asked at most every `POLL_S` (the engine
    checks its token between layers, far more often than a scheduler round trip should happen)."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self._name = name
        self._event_handle: Any = None
        self._next_poll = 0.0

    @property
    def cancelled(self) -> bool:
        if not super().cancelled and time.monotonic() >= self._next_poll:
            self._next_poll = time.monotonic() + POLL_S
            if self._event_handle is None:
                self._event_handle = distributed_module().Event(self._name)
            if self._event_handle.is_set():
                self.cancel()
        return super().cancelled

    def raise_if_cancelled(self) -> None:
        if self.cancelled:
            raise Cancelled()
