"""Training on several processes: which rank this one is, its process group, and the few collectives the
job and the trainers need.

torchrun (or `sr-studio train --nproc N`, which runs it in-process) starts one copy of the job per rank,
with RANK, WORLD_SIZE and LOCAL_RANK in the environment. Every rank builds the same networks from the
same seed and loads the same checkpoint; DistributedDataParallel averages the generator's gradients and
`average_gradients` a discriminator's; each rank draws its own batches (`data_seed`). Rank 0 alone
evaluates and writes. Without those variables a `World` is one process and every method is a no-op (no
process group), so a plain run is exactly what it was.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import torch
from torch import nn

from sr_studio.core.errors import SRStudioError

# Long enough for rank 0's evaluation, during which the others wait in their next collective; a rank that
# dies is noticed at once (its sockets close), this only bounds waiting on one that hangs.
DEFAULT_TIMEOUT_S = 1800.0
TIMEOUT_ENV = "SR_STUDIO_DIST_TIMEOUT"  # seconds; set by `--dist-timeout`, read by every rank
_BACKEND_ERROR = re.compile(r"gloo|nccl|connection (closed|reset)|timed out", re.IGNORECASE)


@dataclass(frozen=True)
class World:
    """This process's place among the ranks of one run (the defaults: a run of one process)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    timeout_s: float = DEFAULT_TIMEOUT_S

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> World:
        """The rank torchrun gave this process; one process when it gave none. The environment is the one
        place a rank's identity comes from, so every part of the job that asks gets the same answer."""
        timeout_s = float(environ.get(TIMEOUT_ENV, DEFAULT_TIMEOUT_S))
        size = int(environ.get("WORLD_SIZE", "1"))
        if size <= 1:
            return cls(timeout_s=timeout_s)
        return cls(int(environ["RANK"]), size, int(environ.get("LOCAL_RANK", "0")), timeout_s)

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the one that evaluates, reports and writes the run folder and the model."""
        return self.rank == 0

    def device(self, device: torch.device) -> torch.device:
        """Each rank of a CUDA run on its own GPU (LOCAL_RANK); the CPU is shared."""
        if not self.distributed or device.type != "cuda":
            return device
        torch.cuda.set_device(self.local_rank)
        return torch.device("cuda", self.local_rank)

    def start(self, device: torch.device) -> None:
        """Join the others (NCCL between GPUs, gloo on the CPU); returns once every rank has joined."""
        if self.distributed and not torch.distributed.is_initialized():
            backend = "nccl" if device.type == "cuda" else "gloo"
            timeout = timedelta(seconds=self.timeout_s)
            torch.distributed.init_process_group(
                backend, timeout=timeout, rank=self.rank, world_size=self.size
            )

    def close(self) -> None:
        if self.distributed and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()

    def wrap(self, network: nn.Module) -> nn.Module:
        """The network to run forward in training: under DDP (which broadcasts rank 0's weights now and
        averages gradients in backward), or itself. State dicts, evaluation and export use `network`."""
        if not self.distributed:
            return network
        from torch.nn.parallel import DistributedDataParallel

        parameter = next(network.parameters())
        ids = [parameter.device.index] if parameter.device.type == "cuda" else None
        return DistributedDataParallel(network, device_ids=ids)

    def average_gradients(self, network: nn.Module) -> None:
        """Average `network`'s gradients over the ranks, in one all-reduce: for a network that is not under
        DDP because it runs forward more than once per backward (a discriminator on real, then fake)."""
        if not self.distributed:
            return
        grads = [p.grad for p in network.parameters() if p.grad is not None]
        flat = torch.cat([g.reshape(-1) for g in grads])
        torch.distributed.all_reduce(flat)
        flat /= self.size
        offset = 0
        for grad in grads:
            grad.copy_(flat[offset : offset + grad.numel()].view_as(grad))
            offset += grad.numel()

    def mean(self, numbers: dict[str, float]) -> dict[str, float]:
        """`numbers` (losses to report) averaged over the ranks; every rank has the same keys."""
        if not self.distributed:
            return numbers
        keys = sorted(numbers)
        values = self._tensor([numbers[key] for key in keys], torch.float64)
        torch.distributed.all_reduce(values)
        return {key: float(value) / self.size for key, value in zip(keys, values.tolist(), strict=True)}

    def any(self, flag: bool) -> bool:
        """True on every rank when it is true on one: a stop asked of any rank stops all at the same step."""
        if not self.distributed:
            return flag
        value = self._tensor([int(flag)], torch.int64)
        torch.distributed.all_reduce(value, op=torch.distributed.ReduceOp.MAX)
        return bool(value.item())

    def gather(self, state: torch.Tensor) -> list[torch.Tensor]:
        """Every rank's `state` (a tensor of one shape on all, such as a CPU generator's), in rank order."""
        if not self.distributed:
            return [state]
        local = state.to(self._collective_device())
        parts = [torch.empty_like(local) for _ in range(self.size)]
        torch.distributed.all_gather(parts, local)
        return [part.to(state.device) for part in parts]

    def check_same(self, value: int, what: str) -> None:
        """Stop with one line when the ranks disagree (a rank that cannot see the run's checkpoint)."""
        if not self.distributed:
            return
        values = [int(v) for v in self.gather(torch.tensor([value], dtype=torch.int64))]
        if len(set(values)) > 1:
            raise SRStudioError(
                f"the ranks disagree on the {what} ({values}): every machine must see the run folder and "
                "the data at the same paths"
            )

    def barrier(self) -> None:
        if self.distributed:
            torch.distributed.barrier()

    def explain(self, error: Exception) -> Exception:
        """A collective that failed because another rank died or hung, as one line the user can act on;
        any other error unchanged."""
        if not self.distributed or isinstance(error, SRStudioError):
            return error
        if not (isinstance(error, torch.distributed.DistError) or _BACKEND_ERROR.search(str(error))):
            return error
        detail = re.sub(r"^\[[^\]]*\]\s*", "", str(error).strip().splitlines()[0]).split(". ")[0]
        return SRStudioError(
            f"rank {self.rank} of {self.size}: another training process stopped or stopped answering "
            f"({detail}); resume the run from its last checkpoint with --resume RUN_DIR"
        )

    def _collective_device(self) -> torch.device:
        if torch.distributed.get_backend() == "nccl":
            return torch.device("cuda", torch.cuda.current_device())
        return torch.device("cpu")

    def _tensor(self, values: list[float] | list[int], dtype: torch.dtype) -> torch.Tensor:
        return torch.tensor(values, dtype=dtype, device=self._collective_device())


SINGLE = World()


def data_seed(seed: int, rank: int, step: int = 0) -> int:
    """The seed of rank `rank`'s batch generator: the run's own seed on rank 0 from the start (so a run of
    one process draws what it always drew), a seed mixed from (seed, rank, step) otherwise."""
    if rank == 0 and step == 0:
        return seed
    return int(np.random.SeedSequence([seed, rank, step]).generate_state(1, np.uint64)[0] >> 1)
