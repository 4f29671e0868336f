"""What a training job and its faces agree on: event names, exit codes, the run folder's file names, and the
validation split the wizard previews before a job makes it.

The job (`sr_studio.train.job`) writes these; the wizard (`QProcess` and the run folders it offers to resume),
the self-test and scripts read them. No torch and no Qt here, so every side can import it at start-up.

A job prints one JSON object per line on stdout, `{"event": NAME, "time": ..., ...}`, and appends the same
line to the run folder's `events.jsonl`:

- `start`: task, name, run_dir, step, steps, device, precision, train_images, val_images, skipped, warnings,
  base, resumed, lineage
- `step`: step, of, it_s, eta_s and the losses
- `eval`: step, metrics, preview (a PNG path or null), best_step, final
- `checkpoint`: step, path
- `done`: step, card, seconds, metrics (the last event of a finished run)
- `stopped`: step, run_dir (after SIGTERM/SIGINT or the stop file: checkpointed, resumable)
- `error`: message (one line)
- `probe`: seconds_per_step, steps, device, precision, train_images, val_images (`--probe` prints only this)
"""

from __future__ import annotations

# Events, in the order a run reports them.
START = "start"
STEP = "step"
EVAL = "eval"
CHECKPOINT_EVENT = "checkpoint"
DONE = "done"
STOPPED = "stopped"
ERROR = "error"
PROBE = "probe"
# How a job ends when it ends as meant: a run with done, stopped or error; a `--probe` with its one event.
TERMINAL_EVENTS = frozenset({DONE, STOPPED, ERROR, PROBE})

# Exit codes.
EXIT_DONE = 0
EXIT_ERROR = 1  # the data, a model file or the machine: one `error` event says what
EXIT_USAGE = 2  # the recipe or the flags (an unknown option, a precision training does not offer)
EXIT_STOPPED = 130  # stopped on request, with a checkpoint: `--resume RUN_DIR` continues it

# The run folder.
CHECKPOINT = "checkpoint.pt"  # networks, optimisers, RNG states, step: written atomically
BEST = "best.safetensors"  # the weights that validated best so far
CONFIG = "config.toml"  # the run's recipe, paths resolved, overrides included: `--resume` reads it
EVENTS = "events.jsonl"  # every event the job printed, for a face that reattaches
STOP_FILE = "stop"  # created by a face to ask for a stop where there is no SIGTERM (Windows)
PREVIEWS = "previews"  # step-NNNNNNN.png at each evaluation


def validation_count(images: int, share: float) -> int:
    """How many of `images` usable training images a run without explicit validation files holds back:
    `share` of them, rounded, and none when there is only one (it is needed for training)."""
    return 0 if images < 2 else round(images * share)
