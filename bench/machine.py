"""What machine a benchmark ran on, written beside its figures (these machines are shared and noisy)."""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
from pathlib import Path


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, or "unknown CPU"."""
    try:
        found = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.MULTILINE)
    except OSError:
        return "unknown CPU"
    return found.group(1).strip() if found else "unknown CPU"


def machine_summary() -> str:
    """CPUs, their model, Python, the load average now and the local time: one line for RESULTS.md."""
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    return (f"{os.cpu_count()} CPUs ({cpu_model()}), Python {platform.python_version()}, load average {load} "
            f"at start, {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}")  # fmt: skip
