"""This machine in one place: its description for benchmark results, and the cores a process may use.

    machine.line(machine.describe())
    # '2026-11-30, AMD EPYC, 2 cores, 23.5 GiB RAM, Linux-6.18-x86_64, Python 3.11.7, requirements.lock 3f2a...'

Every benchmark result starts with that line, so a number always says where, when and with which
locked versions of the packages it was measured.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import platform
from pathlib import Path
from typing import Any

from . import paths


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity), which can be fewer than the machine has."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def lock_id() -> str | None:
    """The first 12 hex digits of requirements.lock's sha256: which locked versions a result was measured with."""
    lock = paths.repo_root() / "requirements.lock"
    return hashlib.sha256(lock.read_bytes()).hexdigest()[:12] if lock.is_file() else None


def describe() -> dict[str, Any]:
    """CPU model, usable cores, memory, OS and Python of this machine, today's date and the lock installed."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory_gib = None
    with contextlib.suppress(OSError, ValueError, AttributeError):
        memory_gib = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    return {
        "date": dt.date.today().isoformat(),
        "cpu": cpu,
        "cores": usable_cores(),
        "memory_gib": memory_gib,
        "os": platform.platform(terse=True),
        "python": platform.python_version(),
        "lock": lock_id(),
        # how busy the machine was when the measurement began: other work slows every timing
        "load_average": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
    }


def line(info: dict[str, Any]) -> str:
    """`describe()` as the one line that heads every benchmark result."""
    lock = f", requirements.lock {info['lock']}" if info.get("lock") else ""  # results before the lock have none
    load = info.get("load_average")  # nor before the load average was recorded
    busy = f"; load average {', '.join(f'{x:.2f}' for x in load)} when it began" if load else ""
    cores = f"{info['cores']} core" + ("s" if info["cores"] != 1 else "")
    return (
        f"{info['date']}, {info['cpu']}, {cores}, {info['memory_gib']} GiB RAM, {info['os']}, "
        f"Python {info['python']}{lock}{busy}"
    )
