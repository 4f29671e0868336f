"""What machine this is, in words for About boxes, benchmark tables and model cards (no torch, no Qt)."""

from __future__ import annotations

import platform


def cpu_name() -> str:
    """The processor's marketing name where the OS tells it, else whatever `platform` knows."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="ignore") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"
