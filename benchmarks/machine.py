"""What else is running, for benchmark reports on shared, noisy machines (a script helper, not shipped)."""

from __future__ import annotations

import os
import subprocess


def busy_processes(min_cpu: float = 1.0, limit: int = 5) -> list[str]:
    """Other processes' CPU use, highest first, for benchmark reports on shared, noisy machines.

    ps's %CPU is CPU time over each process's lifetime, not its use right now; this process and its
    children are left out. Empty where `ps` is unavailable.
    """
    try:
        listing = subprocess.run(
            ["ps", "-eo", "pid,ppid,ni,pcpu,etime,args", "--sort=-pcpu"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()[1:]
    except (OSError, subprocess.CalledProcessError):
        return []
    mine = os.getpid()
    busy = []
    for line in listing:
        fields = line.split(None, 5)
        if len(fields) < 6 or mine in (int(fields[0]), int(fields[1])):
            continue
        pid, _, nice, cpu, elapsed, command = fields
        if float(cpu) < min_cpu:
            break
        busy.append(f"pid {pid}, nice {nice}, {cpu} % CPU, running {elapsed}: {command[:90]}")
    return busy[:limit]
