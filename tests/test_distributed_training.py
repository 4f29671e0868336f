"""Training on two CPU processes (gloo on loopback): DDP learns what one process learns from both ranks'
batches together, a stop on one rank stops both at one step and resumes bit for bit, a hung rank is one
line after the process group's timeout, and under torchrun a killed rank is one line, then `--resume`."""

from __future__ import annotations

import io
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import torch
import torch.multiprocessing as mp
from safetensors.torch import load_file

from sr_studio.core.errors import SRStudioError
from sr_studio.train import job
from sr_studio.train.checkpoint import load_checkpoint, save_checkpoint
from sr_studio.train.config import RunConfig, config_from_dict
from sr_studio.train.data import load_dataset
from sr_studio.train.distributed import SINGLE, TIMEOUT_ENV, World, data_seed
from sr_studio.train.sampler import SampleTrainer
from sr_studio.train.stop import StopRequest
from sr_studio.train.upscaler import UpscaleTrainer
from tests.test_train import SAMPLE, UPSCALE, write_config, write_images

RANKS = 2
STOP_AT = 5  # the step after which rank 1 alone is asked to stop
HANG_TIMEOUT_S = 2.0


def free_ports(count: int) -> list[int]:
    """Ports free now and below Linux's ephemeral range (32768+), where gloo's own connections bind, so a
    port picked ahead for a later process group is not taken by then."""
    ports: list[int] = []
    for port in random.Random().sample(range(20000, 32000), 50):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        ports.append(port)
        if len(ports) == count:
            return ports
    raise OSError("no free ports")


def upscale_config(root: Path, **train: object) -> RunConfig:
    data = json.loads(json.dumps(UPSCALE))
    data["precision"] = "fp32"  # bf16 autocast would hide a real difference inside its rounding
    data["train"].update(train)
    return config_from_dict(data, root, "test")


def sample_config(root: Path) -> RunConfig:
    data = json.loads(json.dumps(SAMPLE))
    data.update(precision="fp32", data={**data["data"], "val_share": 0.0})
    return config_from_dict(data, root, "test")


class StopAfter(StopRequest):
    """A stop asked after `steps` checks (one per step): of this rank only."""

    def __init__(self, steps: int) -> None:
        super().__init__()
        self.left = steps

    @property
    def requested(self) -> bool:
        self.left -= 1
        return self.left <= 0


def _join(rank: int, port: int, timeout_s: float = 60.0) -> World:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    world = World(rank, RANKS, rank, timeout_s)
    world.start(torch.device("cpu"))
    return world


def _rank(rank: int, root: Path, ports: list[int]) -> None:
    """Everything one rank does (one spawn for all scenarios: starting processes is the slow part)."""
    torch.set_num_threads(1)
    os.environ["SR_STUDIO_DATA_DIR"] = str(root / "user-data")
    results: dict[str, object] = {}

    # 1. One step of an L1 upscaler (no batch norm): rank 0's and rank 1's batches and weights after it.
    world = _join(rank, ports[0])
    config = upscale_config(root)
    torch.manual_seed(config.seed)
    trainer = UpscaleTrainer(config, load_dataset(config, min_side=32), torch.device("cpu"), "fp32", world)
    generator = torch.Generator().manual_seed(data_seed(config.seed, rank))
    batch = trainer.sampler.batch(config.train.batch, generator)
    trainer.learn(1, *batch)
    results["batch"], results["upscaler"] = batch, trainer.network.state_dict()

    # 2. An SRGAN step and two DCGAN steps: the discriminators, averaged by hand, stay in step too.
    config = upscale_config(root, adversarial=1e-3, feature_matching=0.1, ema=0.9)
    torch.manual_seed(config.seed)
    srgan = UpscaleTrainer(config, load_dataset(config, min_side=32), torch.device("cpu"), "fp32", world)
    sample = sample_config(root)
    torch.manual_seed(sample.seed)
    dcgan = SampleTrainer(sample, load_dataset(sample, min_side=8), torch.device("cpu"), "fp32", world)
    results["srgan_d_loss"] = srgan.step(1, generator)["discriminator"]
    for step in (1, 2):
        dcgan.step(step, generator)
    results["srgan"], results["dcgan"] = srgan.state_dict(), dcgan.state_dict()
    world.close()

    # 3. Whole jobs: uninterrupted; stopped by rank 1 alone; resumed. Rank 0 reports into a file.
    def run(port: int, stream: io.StringIO, **kwargs: object) -> int:
        os.environ.update(MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(RANKS))
        try:
            return job.main(None, stream=stream, **kwargs)
        finally:
            os.environ["WORLD_SIZE"] = "1"

    def recipe(output: str) -> RunConfig:
        config = upscale_config(root, steps=12, checkpoint_every=4, eval_every=6, log_every=3)
        config.output = output
        return config

    streams = [io.StringIO() for _ in range(3)]
    stop = StopAfter(STOP_AT if rank else 99)
    codes = [
        run(ports[1], streams[0], config=recipe("out-a"), run_dir=root / "run-a", stop=StopRequest()),
        run(ports[2], streams[1], config=recipe("out-b"), run_dir=root / "run-b", stop=stop),
        run(ports[3], streams[2], resume=root / "run-b", stop=StopRequest()),
    ]
    results["codes"], results["events"] = codes, [s.getvalue() for s in streams]

    # 4. A rank that hangs: the other's next collective fails after the timeout, as one line. (Meet first,
    # so the short timeout is not spent waiting for rank 0's final evaluation.)
    world = _join(rank, ports[4])
    world.barrier()
    world.close()
    world = _join(rank, ports[5], HANG_TIMEOUT_S)
    if rank == 0:
        try:
            world.any(False)
        except Exception as error:
            results["hang"] = str(world.explain(error))
    else:
        time.sleep(2 * HANG_TIMEOUT_S)
    world.close()
    torch.save(results, root / f"rank-{rank}.pt")


@pytest.fixture(scope="module")
def ranks(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    root = tmp_path_factory.mktemp("ddp")
    write_images(root / "images", count=8)
    mp.spawn(_rank, args=(root, free_ports(6)), nprocs=RANKS, join=True)
    return root, [torch.load(root / f"rank-{rank}.pt", weights_only=False) for rank in range(RANKS)]


def events(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def test_ddp_step_equals_one_process_on_both_ranks_batches(ranks):
    root, results = ranks
    config = upscale_config(root)
    (lr0, hr0), (lr1, hr1) = results[0]["batch"], results[1]["batch"]
    assert not torch.equal(hr0, hr1)  # each rank drew its own patches

    def one_process(lr: torch.Tensor, hr: torch.Tensor) -> dict[str, torch.Tensor]:
        torch.manual_seed(config.seed)
        trainer = UpscaleTrainer(config, load_dataset(config, min_side=32), torch.device("cpu"), "fp32")
        trainer.learn(1, lr, hr)
        return trainer.network.state_dict()

    together = one_process(torch.cat([lr0, lr1]), torch.cat([hr0, hr1]))
    alone = one_process(lr0, hr0)
    for key, value in together.items():
        for rank in range(RANKS):
            torch.testing.assert_close(results[rank]["upscaler"][key], value, rtol=1e-5, atol=1e-6)
    assert any(not torch.allclose(alone[k], together[k], atol=1e-6) for k in together)  # the test can fail


def test_generators_and_hand_averaged_discriminators_stay_identical_on_every_rank(ranks):
    _, results = ranks
    for task in ("srgan", "dcgan"):
        for part in ("network", "average", "discriminator"):
            first, second = results[0][task][part], results[1][task][part]
            for key in first:
                if not key.endswith(("running_mean", "running_var", "num_batches_tracked")):  # per rank
                    torch.testing.assert_close(first[key], second[key], rtol=0, atol=1e-6)
    # The ranks learned from different batches: their own losses differ, their weights do not.
    assert results[0]["srgan_d_loss"] != results[1]["srgan_d_loss"]


def test_a_stop_on_one_rank_stops_both_at_one_step_and_resume_is_bit_exact(ranks):
    root, results = ranks
    assert results[0]["codes"] == results[1]["codes"] == [0, 130, 0]
    assert all(text == "" for text in results[1]["events"])  # rank 1 prints nothing
    uninterrupted, stopped, resumed = (events(text) for text in results[0]["events"])
    assert [e["step"] for e in uninterrupted if e["event"] == "step"] == [3, 6, 9, 12]  # once each
    assert uninterrupted[0]["processes"] == RANKS
    assert (stopped[-1]["event"], stopped[-1]["step"]) == ("stopped", STOP_AT)
    assert (stopped[-2]["event"], stopped[-2]["step"]) == ("checkpoint", STOP_AT)
    saved = torch.load(root / "run-b" / "checkpoint.pt", weights_only=True)
    assert saved["step"] == 12 and len(saved["generators"]) == RANKS
    assert resumed[0]["resumed"] and resumed[0]["step"] == STOP_AT and resumed[-1]["event"] == "done"
    card = json.loads(Path(resumed[-1]["card"]).read_text())
    assert card["extra"]["machine"].endswith(f"{RANKS} processes")
    reference = load_file(Path(uninterrupted[-1]["card"]).with_suffix(".safetensors"))
    again = load_file(Path(resumed[-1]["card"]).with_suffix(".safetensors"))
    for key in reference:
        torch.testing.assert_close(again[key], reference[key], rtol=0, atol=0)


def test_a_hung_rank_is_one_line_after_the_timeout(ranks):
    _, results = ranks
    message = results[0]["hang"]
    assert "stopped answering" in message and "--resume" in message and "\n" not in message


def test_a_single_process_world_changes_nothing():
    assert World.from_env({}) == SINGLE and not SINGLE.distributed and SINGLE.is_main
    assert World.from_env({"WORLD_SIZE": "4", "RANK": "3", "LOCAL_RANK": "1"}) == World(3, 4, 1)
    assert World.from_env({TIMEOUT_ENV: "5"}).timeout_s == 5
    assert data_seed(7, 0) == 7 and len({data_seed(7, r) for r in range(4)}) == 4
    assert SINGLE.mean({"loss": 2.0}) == {"loss": 2.0} and SINGLE.any(True) and not SINGLE.any(False)
    assert SINGLE.explain(error := RuntimeError("gloo: Connection closed by peer")) is error
    explained = World(1, 2).explain(
        RuntimeError("[pair.cc:553] Connection closed by peer [::1]:5. Check logs")
    )
    assert isinstance(explained, SRStudioError) and "Connection closed by peer [::1]:5" in str(explained)


def test_torchrun_with_a_killed_rank_stops_with_one_line_then_resumes_with_nproc(tmp_path, data_dir):
    write_images(tmp_path / "images")
    config = write_config(tmp_path, UPSCALE, output="out", train__steps=400, train__log_every=1)
    run = tmp_path / "run"
    env = {**os.environ, "SR_STUDIO_DATA_DIR": str(data_dir)}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={RANKS}",
               "-m", "sr_studio.train", str(config), "--run-dir", str(run)]  # fmt: skip
    launcher = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    )
    seen = []
    for line in launcher.stdout:
        seen.append(json.loads(line))
        if seen[-1]["event"] == "checkpoint" and seen[-1]["step"] >= 8:
            workers = psutil.Process(launcher.pid).children()
            next(w for w in workers if w.environ().get("RANK") == "1").send_signal(signal.SIGKILL)
            break
    seen += [json.loads(line) for line in launcher.stdout]
    assert launcher.wait(timeout=60) != 0
    launcher.stdout.close()
    assert seen[-1]["event"] == "error" and "stopped answering" in seen[-1]["message"]
    last = max(e["step"] for e in seen if e["event"] == "checkpoint")

    resume = [sys.executable, "-m", "sr_studio.train", "--resume", str(run), "--nproc", str(RANKS),
              "--steps", str(last + 6)]  # fmt: skip
    result = subprocess.run(resume, capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stdout[-2000:]
    resumed = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert resumed[0]["resumed"] and resumed[0]["step"] == last and resumed[0]["processes"] == RANKS
    assert [e["step"] for e in resumed if e["event"] == "step"] == list(range(last + 1, last + 7))
    assert (resumed[-1]["event"], resumed[-1]["step"]) == ("done", last + 6)


class Weights:
    """The least a checkpoint needs of a trainer."""

    def __init__(self) -> None:
        self.network = torch.nn.Linear(2, 2)

    def state_dict(self) -> dict:
        return {"network": self.network.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.network.load_state_dict(state["network"])


def test_each_rank_resumes_its_own_batch_stream_and_a_new_rank_a_fresh_one(tmp_path):
    path = tmp_path / "checkpoint.pt"
    streams = [torch.Generator().manual_seed(data_seed(3, rank)) for rank in range(RANKS)]
    for stream in streams:
        torch.rand(5, generator=stream)  # some batches drawn
    save_checkpoint(path, Weights(), streams[0], {"step": 40}, [s.get_state() for s in streams])
    for rank in range(RANKS + 1):
        generator = torch.Generator()
        load_checkpoint(path, Weights(), generator, rank=rank, seed=3)
        expected = streams[rank] if rank < RANKS else torch.Generator().manual_seed(data_seed(3, rank, 40))
        assert torch.equal(
            torch.rand(4, generator=generator), torch.rand(4, generator=expected.clone_state())
        )
