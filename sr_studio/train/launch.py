"""`sr-studio train --nproc N`: the job on N local processes, started by torch.distributed.run in this
process, exactly as `torchrun --standalone --nproc-per-node N -m sr_studio.train ARGS` would start it.

The ranks get the same arguments (`--nproc` included: under torchrun's environment the job ignores it).
torchrun forwards SIGTERM/SIGINT to them, so a stop still checkpoints; it gives them 30 s to finish
(TORCH_ELASTIC_SHUTDOWN_TIMEOUT) before it kills them.
"""

from __future__ import annotations

from collections.abc import Sequence

from sr_studio.train.child import training_command
from sr_studio.train.protocol import EXIT_DONE, EXIT_ERROR, EXIT_STOPPED


def launch(argv: Sequence[str], processes: int) -> int:
    """Run the job with `argv` on `processes` local ranks; the exit code is rank 0's (else the first
    rank's that failed), as if one process had run it."""
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import get_args_parser, run

    program, arguments = training_command(argv)  # a frozen app runs itself, so no `python -m`
    options = get_args_parser().parse_args(
        ["--standalone", f"--nproc-per-node={processes}", "--no-python", program]
    )
    options.training_script_args = arguments  # not parsed: torchrun's parser would take `--nproc` for its own
    try:
        run(options)
    except ChildFailedError as error:
        codes = {rank: failure.exitcode for rank, failure in error.failures.items()}
        failed = [code for _, code in sorted(codes.items()) if code > 0]
        return codes[0] if codes.get(0, 0) > 0 else (failed[0] if failed else EXIT_ERROR)
    except SignalException:  # the ranks were sent the same signal and stopped at a checkpoint
        return EXIT_STOPPED
    return EXIT_DONE
