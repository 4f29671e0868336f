"""The training job: one process, one run folder, one JSON object per line on stdout.

Events: `start`, `step` (losses, lr, it/s, ETA), `eval` (metrics, preview image), `checkpoint`, `done`
(the model card), `stopped` (after SIGTERM/SIGINT: checkpointed, resumable) and `error` (one line). Each is
also appended to the run's `events.jsonl`, so a wizard that reattaches after a crash can replay them. Their
names and fields, the exit codes and the run folder's file names are `sr_studio.train.protocol`'s.

A checkpoint (networks, optimisers, the data generator's and torch's RNG states, step, best score, wall
time) is written atomically every `checkpoint_every` steps; `--resume RUN_DIR` restarts from it and, on
the same machine, continues bit for bit as the uninterrupted run would have. The learning-rate schedule
is a pure function of the step, so it needs no state of its own.

Under torchrun every rank runs this same loop in step with the others (`sr_studio.train.distributed`):
losses are averaged over the ranks for the `step` event, a stop asked of any rank stops all at the same
step, and rank 0 alone evaluates, writes the run folder and the model, and prints events.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

import torch

from sr_studio.core.atomic import write_text_atomic
from sr_studio.core.errors import SRStudioError, UsageError
from sr_studio.core.library import ModelLibrary
from sr_studio.core.paths import user_data_dir, user_models_dir
from sr_studio.train.checkpoint import load_checkpoint, restore_best, save_best, save_checkpoint
from sr_studio.train.common import training_precision
from sr_studio.train.config import RunConfig, dump_toml, load_config
from sr_studio.train.data import load_dataset
from sr_studio.train.distributed import World, data_seed
from sr_studio.train.export import export_model
from sr_studio.train.protocol import (
    CHECKPOINT,
    CHECKPOINT_EVENT,
    CONFIG,
    DONE,
    ERROR,
    EVAL,
    EVENTS,
    EXIT_DONE,
    EXIT_ERROR,
    EXIT_STOPPED,
    EXIT_USAGE,
    PREVIEWS,
    PROBE,
    START,
    STEP,
    STOPPED,
)
from sr_studio.train.stop import StopRequest


class EventLog:
    """Writes each event as one JSON line to a stream (stdout) and to the run's events.jsonl; `only`: the
    events it writes at all (the other ranks of a distributed run report only their errors, on stderr)."""

    def __init__(self, stream: TextIO, only: frozenset[str] | None = None) -> None:
        self.stream, self.only = stream, only
        self.file: TextIO | None = None

    @classmethod
    def for_rank(cls, stream: TextIO, world: World) -> EventLog:
        return cls(stream) if world.is_main else cls(sys.stderr, only=frozenset({ERROR}))

    def attach(self, run_dir: Path) -> None:
        self.file = (run_dir / EVENTS).open("a", encoding="utf-8")

    def __call__(self, event: str, **fields: Any) -> None:
        if self.only is not None and event not in self.only:
            return
        line = json.dumps({"event": event, "time": round(time.time(), 3), **fields}, default=str)
        for target in (self.stream, self.file):
            if target is not None:
                target.write(line + "\n")
                target.flush()

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


def default_run_dir(name: str) -> Path:
    return user_data_dir() / "runs" / f"{name}-{datetime.now():%Y%m%d-%H%M%S}"


def main(
    config_path: Path | None,
    *,
    config: RunConfig | None = None,
    resume: Path | None = None,
    run_dir: Path | None = None,
    overrides: dict[str, Any] | None = None,
    stream: TextIO = sys.stdout,
    stop: StopRequest | None = None,
) -> int:
    """Run a job from a recipe file (or a built `config`), or resume one; returns the exit code. Under
    torchrun, this process's rank comes from its environment."""
    world = World.from_env()
    log = EventLog.for_rank(stream, world)
    stop = stop or StopRequest()
    try:
        if resume is not None:
            run_dir = resume
            if not (resume / CONFIG).is_file():
                raise SRStudioError(f"not a training run folder (no {CONFIG})", resume)
            config = load_config(resume / CONFIG, overrides)
        elif config is None and config_path is not None:
            config = load_config(config_path, overrides)
        if config is None:
            raise UsageError("give a config file or --resume RUN_DIR")
        run_dir = run_dir or default_run_dir(config.name)
        return _run(config, run_dir, resume is not None, log, stop, world)
    except Exception as error:
        return _failed(log, world.explain(error))
    finally:
        log.close()
        world.close()


def _failed(log: EventLog, error: Exception) -> int:
    """Report why a job ends early as one `error` event; the exit code says whose problem it is."""
    if isinstance(error, SRStudioError):
        log(ERROR, message=str(error))
        return EXIT_USAGE if isinstance(error, UsageError) else EXIT_ERROR
    from sr_studio.core.logs import log_exception  # a bug: one line for the user, the traceback in the log

    where = log_exception(error)
    log(ERROR, message=f"internal error: {error.__class__.__name__}: {error} (details in {where})")
    return EXIT_ERROR


def _run(
    config: RunConfig, run_dir: Path, resuming: bool, log: EventLog, stop: StopRequest, world: World
) -> int:
    output = config.path(config.output) if config.output else user_models_dir()
    if not resuming:  # every rank checks (each could stop alone), rank 0 alone writes
        if (run_dir / CHECKPOINT).exists():
            raise SRStudioError("this run folder already holds a run; resume it or pick another", run_dir)
        if config.output is None:
            ModelLibrary(user_dir=output).refuse_clash(config.name)
    if world.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        # Rewritten on resume too: overrides given then (--steps, --threads) stay with the run, so resuming
        # it again continues to the same end instead of the original recipe's.
        write_text_atomic(run_dir / CONFIG, dump_toml(config))
        log.attach(run_dir)
        stop.watch(run_dir)
    trainer, device, precision = _prepare(config)
    return Run(config, trainer, run_dir, output, log, device, precision, world).train(resuming, stop)


class Run:
    """The loop: step, report, evaluate, keep the best, checkpoint, stop on request, export."""

    def __init__(
        self,
        config: RunConfig,
        trainer: Any,
        run_dir: Path,
        output: Path,
        log: EventLog,
        device: torch.device,
        precision: str,
        world: World,
    ) -> None:
        self.config, self.trainer, self.run_dir, self.output, self.log = config, trainer, run_dir, output, log
        self.device, self.precision, self.world = device, precision, world
        self.generator = torch.Generator().manual_seed(data_seed(config.seed, world.rank))
        self.state: dict[str, Any] = {
            "step": 0,
            "best": None,
            "best_step": None,
            "seconds": 0.0,
            "before": {},
            "started": time.time(),
            # A run that warm-starts from the library model it will replace continues that model's training.
            "lineage": trainer.base_segments if trainer.base_name == config.name else [],
        }
        self._clock = time.perf_counter()
        self._seconds_before = 0.0

    def elapsed(self) -> float:
        return self._seconds_before + time.perf_counter() - self._clock

    def train(self, resuming: bool, stop: StopRequest) -> int:
        config, trainer, state, world = self.config, self.trainer, self.state, self.world
        checkpoint = self.run_dir / CHECKPOINT
        if resuming and checkpoint.exists():
            saved = load_checkpoint(checkpoint, trainer, self.generator, rank=world.rank, seed=config.seed)
            state.update(saved)
        world.check_same(state["step"], "step to resume from")
        self._seconds_before, self._clock = state["seconds"], time.perf_counter()
        dataset = trainer.dataset
        self.log(
            START,
            task=config.task,
            name=config.name,
            run_dir=str(self.run_dir),
            step=state["step"],
            steps=config.train.steps,
            device=str(self.device),
            precision=self.precision,
            train_images=len(dataset.train),
            val_images=len(dataset.val),
            skipped=[[str(path), reason] for path, reason in dataset.skipped],
            warnings=dataset.warnings,
            base=trainer.base_name,
            resumed=resuming,
            processes=world.size,  # train.batch is per process: each step learns from processes × batch
            lineage=state["lineage"],  # the earlier segments this run continues (reports draw them)
        )
        limit, steps = config.data.eval_images, config.train.steps
        if state["step"] == 0 and world.is_main:
            state["before"] = trainer.baseline(limit)
            if state["before"]:
                self.log(EVAL, step=0, metrics=state["before"], preview=None)
            base_score = _score(config, {"model": state["before"].get("base", {})})
            if state["lineage"] and base_score is not None:  # a continuation must beat what it replaces
                state["best"], state["best_step"] = base_score, 0
                save_best(trainer, self.run_dir)

        window_start, window_step = self._clock, state["step"]
        first_step = state["step"]
        metrics: dict[str, Any] = {}
        for step in range(state["step"] + 1, steps + 1):
            numbers = trainer.step(step, self.generator)
            state["step"] = step
            stopping = world.any(stop.requested)  # read once: the checkpoint and the stop agree
            if step % config.train.log_every == 0 or step == steps:
                numbers = world.mean(numbers)
                now = time.perf_counter()
                rate = (step - window_step) / max(now - window_start, 1e-9)
                overall = (step - first_step) / max(now - self._clock, 1e-9)
                window_start, window_step = now, step
                self.log(
                    STEP,
                    step=step,
                    of=steps,
                    it_s=round(rate, 3),
                    eta_s=round((steps - step) / overall, 1),
                    **{k: round(v, 6) for k, v in numbers.items()},
                )
            if (step % config.train.eval_every == 0 or step == steps) and world.is_main:
                metrics = self.evaluate(step, limit)
            if (step % config.train.checkpoint_every == 0 and step != steps) or stopping:
                self.checkpoint()
            if stopping:
                world.barrier()  # torchrun ends the others once one rank exits: after rank 0's checkpoint
                self.log(STOPPED, step=step, run_dir=str(self.run_dir))
                return EXIT_STOPPED

        generators = world.gather(self.generator.get_state())
        if world.is_main:
            self.finish(metrics, generators)
        world.barrier()  # all leave together: a rank exiting while rank 0 holds gloo's sockets may abort
        return EXIT_DONE

    def finish(self, metrics: dict[str, Any], generators: list[torch.Tensor]) -> None:
        """Rank 0 at the last step: the best weights back (ranked runs), the final evaluation, the model."""
        state, steps = self.state, self.config.train.steps
        restored = state["best"] is not None and state["best_step"] != steps  # ranked runs only
        if restored:
            restore_best(self.trainer, self.run_dir)
        if restored or self.config.data.eval_images or not metrics:
            metrics = self.evaluate(steps, 0, final=True)
        self.checkpoint(generators)
        card = self.export(metrics, complete=True)
        self.log(DONE, step=steps, card=str(card), seconds=round(self.elapsed(), 1), metrics=metrics)

    def checkpoint(self, generators: list[torch.Tensor] | None = None) -> None:
        """Every rank's batch generator goes in (gathered here unless given), written by rank 0."""
        generators = generators or self.world.gather(self.generator.get_state())
        if not self.world.is_main:
            return
        self.state["seconds"] = self.elapsed()
        path = self.run_dir / CHECKPOINT
        save_checkpoint(path, self.trainer, self.generator, self.state, generators)
        self.log(CHECKPOINT_EVENT, step=self.state["step"], path=str(path))

    def evaluate(self, step: int, limit: int, *, final: bool = False) -> dict[str, Any]:
        """Measure, keep the best weights; a recipe with an explicit output also refreshes the model there
        (an upscaler's best so far, a GAN's latest), so a stopped run still leaves a usable, marked model."""
        state = self.state
        preview = self.run_dir / PREVIEWS / f"step-{step:07d}.png"
        metrics = self.trainer.evaluate(limit, preview)
        score = _score(self.config, metrics)
        improved = not final and score is not None and (state["best"] is None or score > state["best"])
        if improved:
            state["best"], state["best_step"] = score, step
            save_best(self.trainer, self.run_dir)
        unranked = score is None  # a GAN keeps its latest weights
        if unranked:
            state["best"], state["best_step"] = None, step
        if self.config.output is not None and step < self.config.train.steps and (improved or unranked):
            self.export(metrics, complete=False)
        self.log(
            EVAL,
            step=step,
            metrics=metrics,
            preview=str(preview) if preview.exists() else None,
            best_step=state["best_step"],
            final=final,
        )
        return metrics

    def export(self, metrics: dict[str, Any], *, complete: bool) -> Path:
        return export_model(
            self.config,
            self.trainer,
            self.output,
            metrics,
            self.state,
            self.device,
            self.precision,
            self.elapsed(),
            complete=complete,
            processes=self.world.size,
        )


def probe(config: RunConfig, steps: int, stream: TextIO = sys.stdout) -> int:
    """Time `steps` training steps (after one warm-up step) without writing anything: the wizard's
    presets quote times measured on this machine, not guessed. Under torchrun the ranks step together,
    so rank 0's time per step is the run's."""
    world = World.from_env()
    log = EventLog.for_rank(stream, world)
    try:
        trainer, device, precision = _prepare(config)
        generator = torch.Generator().manual_seed(data_seed(config.seed, world.rank))
        trainer.step(1, generator)
        times = []
        for step in range(2, steps + 2):
            started = time.perf_counter()
            trainer.step(step, generator)
            times.append(time.perf_counter() - started)
        times.sort()
        log(
            PROBE,
            seconds_per_step=round(times[len(times) // 2], 4),
            steps=steps,
            device=str(device),
            precision=precision,
            train_images=len(trainer.dataset.train),
            val_images=len(trainer.dataset.val),
            processes=world.size,
        )
        return EXIT_DONE
    except Exception as error:
        return _failed(log, world.explain(error))
    finally:
        world.close()


def _prepare(config: RunConfig) -> tuple[Any, torch.device, str]:
    """Threads, seed, device and precision as the config asks, the process group when there are several
    ranks (the seed alike on all: the same initial weights), and the task's trainer on that device."""
    from sr_studio.core.engine import resolve_device

    world = World.from_env()
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    device = world.device(resolve_device(config.device))
    world.start(device)
    precision = training_precision(config.precision, device)
    return _make_trainer(config, device, precision, world), device, precision


def _make_trainer(config: RunConfig, device: torch.device, precision: str, world: World) -> Any:
    if config.task == "upscale":
        from sr_studio.train.upscaler import UpscaleTrainer

        dataset = load_dataset(config, min_side=config.data.patch)
        return UpscaleTrainer(config, dataset, device, precision, world)
    from sr_studio.train.sampler import SampleTrainer

    dataset = load_dataset(config, min_side=8, needs_val=False)
    return SampleTrainer(config, dataset, device, precision, world)


def _score(config: RunConfig, metrics: dict[str, Any]) -> float | None:
    """Higher is better: validation PSNR for PSNR-trained upscalers. GANs (samplers and SRGAN fine-tunes)
    are unranked and keep their latest weights: an SRGAN's PSNR falls as its textures sharpen, so ranking
    by it would ship the least-trained checkpoint."""
    if config.task != "upscale" or config.train.adversarial:
        return None
    return metrics.get("model", {}).get("psnr")
