"""Batches on a local Dask cluster: the plain batch's pixels and fates, a killed worker loses nothing, a file
that keeps killing workers fails alone, cancel stops, a re-run finishes only what is missing.

One module-scoped two-worker cluster serves every test but the end-to-end CLI run, which starts its own.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from distributed.diagnostics.plugin import WorkerPlugin
from PIL import Image

from sr_studio.core.batch import OutputOptions, batch_job, plan_batch
from sr_studio.core.cluster import ClusterSpec, cluster_batch_job, connect, local_threads, parse_cluster
from sr_studio.core.errors import Cancelled, UsageError
from sr_studio.core.jobs import CancelToken, run_job
from sr_studio.core.ledger import LEDGER_NAME, read_ledger
from tests.pictures import textured

OPTIONS = OutputOptions()
POLICY = {"device": "cpu", "precision": "fp32", "backend": "torch", "max_pixels": 64_000_000}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[object, int | None]]:
    """A two-worker local cluster whose workers keep their logs and data out of the real home."""
    home = tmp_path_factory.mktemp("cluster-home")
    with pytest.MonkeyPatch.context() as patch:
        for name in ("SR_STUDIO_DATA_DIR", "XDG_DATA_HOME", "XDG_CONFIG_HOME"):
            patch.setenv(name, str(home / name.lower()))
        with connect(ClusterSpec(None, 2)) as (client, threads):
            yield client, threads


def make_pictures(folder: Path, count: int, size: tuple[int, int]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        Image.fromarray(textured(*size, seed=index)).save(folder / f"{index:02d}.png")
    return folder


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image)


def plain_run(library, folder: Path, out: Path, threads: int | None):
    """The plain batch with the workers' torch threads, for pixels to compare with."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads or before)
    try:
        jobs, _ = plan_batch([folder], out, OPTIONS, scale=2, model="tiny-x2")
        return run_job(batch_job(jobs, library.load("tiny-x2"), OPTIONS, **POLICY))
    finally:
        torch.set_num_threads(before)


def cluster_run(cluster, library, folder: Path, out: Path, *, cancel=None, progress=None, record=None):
    client, threads = cluster
    jobs, _ = plan_batch([folder], out, OPTIONS, scale=2, model="tiny-x2")
    job = cluster_batch_job(
        jobs, library.find("tiny-x2"), OPTIONS, client=client, threads=threads, cancel=cancel, record=record,
        **POLICY,
    )  # fmt: skip
    return run_job(job, progress)


def assert_same_outputs(out: Path, reference: Path) -> None:
    names = sorted(p.name for p in reference.iterdir())
    assert sorted(p.name for p in out.iterdir()) == names  # every output, and no temp file
    for name in names:
        assert np.array_equal(pixels(out / name), pixels(reference / name)), name


def test_the_cluster_writes_the_plain_batchs_pixels_and_fates(cluster, library, tmp_path):
    folder = make_pictures(tmp_path / "in", 6, (13, 17))
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    plain = plain_run(library, folder, tmp_path / "plain", cluster[1])
    events, fates = [], []
    report = cluster_run(
        cluster, library, folder, tmp_path / "out", progress=events.append, record=fates.append
    )

    assert [p.name for p in report.written] == [p.name for p in plain.written] and len(report.written) == 6
    assert report.failed == plain.failed and report.failed[0][0].name == "broken.png"
    assert report.settings == plain.settings
    assert sorted(p.name for p in (tmp_path / "plain").iterdir()) == [f"{i:02d}_x2.png" for i in range(6)]
    assert_same_outputs(tmp_path / "out", tmp_path / "plain")
    assert [event.done for event in events] == list(range(1, 8)) and {e.total for e in events} == {7}
    assert sorted(fate.status for fate in fates) == ["failed", *["written"] * 6]
    assert events[-1].eta_s == 0

    again = cluster_run(cluster, library, folder, tmp_path / "out")
    assert not again.written and len(again.skipped) == 6 and len(again.failed) == 1


def test_a_worker_killed_mid_batch_loses_no_output(cluster, library, tmp_path):
    client, threads = cluster
    folder = make_pictures(tmp_path / "in", 10, (160, 240))
    plain_run(library, folder, tmp_path / "plain", threads)
    killed: list[int] = []

    def kill_a_worker_after_the_first_fate(event):
        if not killed:
            pid = next(iter(client.run(os.getpid).values()))
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    report = cluster_run(
        cluster, library, folder, tmp_path / "out", progress=kill_a_worker_after_the_first_fate
    )
    assert killed and killed[0] not in client.run(os.getpid).values() and not report.failed
    assert len(report.written) + len(report.skipped) == 10  # a file whose fate died with it is found done
    assert_same_outputs(tmp_path / "out", tmp_path / "plain")


class CrashOn(WorkerPlugin):
    """Makes each worker process die (as on a segfault) when it starts upscaling the named file."""

    name = "crash-on"

    def __init__(self, file_name: str) -> None:
        self.file_name = file_name

    def setup(self, worker) -> None:
        from sr_studio.core import cluster

        real, file_name = cluster.upscale_fate, self.file_name

        def upscale_or_die(item, *args, **kwargs):
            if item.source.name == file_name:
                os._exit(1)
            return real(item, *args, **kwargs)

        cluster.upscale_fate = upscale_or_die


def test_a_file_that_kills_its_workers_is_its_own_failure(cluster, library, tmp_path):
    client, _ = cluster
    folder = make_pictures(tmp_path / "in", 4, (13, 17))
    Image.fromarray(textured(13, 17, seed=9)).save(folder / "crash.png")
    client.register_plugin(CrashOn("crash.png"))
    try:
        report = cluster_run(cluster, library, folder, tmp_path / "out")
    finally:
        client.unregister_worker_plugin(CrashOn.name)
    ((source, problem),) = report.failed
    assert source.name == "crash.png" and "died" in problem and "\n" not in problem
    assert len(report.written) + len(report.skipped) == 4  # found done: finished by a worker that died
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"{i:02d}_x2.png" for i in range(4)]


def executing(dask_worker) -> int:
    """How many tasks a worker is running now (cancelled ones included, until their thread returns)."""
    return dask_worker.state.executing_count


def test_cancel_stops_the_workers_and_a_rerun_finishes_the_rest(cluster, library, tmp_path):
    client, _ = cluster
    folder = make_pictures(tmp_path / "in", 16, (200, 300))
    cancel = CancelToken()
    with pytest.raises(Cancelled):
        cluster_run(
            cluster, library, folder, tmp_path / "out", cancel=cancel, progress=lambda _: cancel.cancel()
        )
    for _ in range(300):  # a running file stops at its next check of the Event, or finishes first
        if not any(client.run(executing).values()):
            break
        time.sleep(0.1)
    assert not any(client.run(executing).values())
    finished = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert 1 <= len(finished) < 16 and not [name for name in finished if name.endswith(".tmp")]
    rest = cluster_run(cluster, library, folder, tmp_path / "out")
    assert sorted(p.name for p in rest.skipped) == finished
    assert len(rest.written) == 16 - len(finished)


def test_the_cli_runs_a_batch_on_a_local_cluster(library, tmp_path, capsys):
    from sr_studio.cli import main

    folder = make_pictures(tmp_path / "in", 3, (13, 17))
    out = tmp_path / "out"
    arguments = ["upscale", str(folder), "-o", str(out), "--model", "smooth-x2", "--device", "cpu"]
    code = main([*arguments, "--cluster", "local:2", "--backend", "torch", "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 0 and summary["cluster"] == "local:2" and summary["shard"] is None
    assert sorted(Path(p).name for p in summary["written"]) == ["00_x2.png", "01_x2.png", "02_x2.png"]
    lines = read_ledger(out / LEDGER_NAME)
    assert [line["fate"] for line in lines] == ["written"] * 3 and {line["cluster"] for line in lines} == {
        "local:2"
    }


def test_without_dask_the_cluster_is_a_one_line_usage_error(library, tmp_path, capsys, monkeypatch):
    from sr_studio.cli import main

    monkeypatch.setitem(sys.modules, "distributed", None)
    folder = make_pictures(tmp_path / "in", 1, (13, 17))
    code = main(
        ["upscale", str(folder), "-o", str(tmp_path / "o"), "--model", "smooth-x2", "--cluster", "local:1"]
    )
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and "sr-studio[cluster]" in line


@pytest.mark.parametrize("text", ["local:0", "local:", "local:x", "local", ""])
def test_bad_cluster_specs_are_usage_errors(text):
    with pytest.raises(UsageError, match="cluster"):
        parse_cluster(text)


def test_cluster_specs_and_local_threads():
    assert parse_cluster("local:3") == ClusterSpec(None, 3)
    assert parse_cluster("tcp://10.0.0.5:8786") == ClusterSpec("tcp://10.0.0.5:8786")
    cores = os.cpu_count() or 1
    assert local_threads(1) == cores and local_threads(cores * 2) == 1
