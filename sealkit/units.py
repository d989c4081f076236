"""Sizes and durations as people read them: shared by the CLI's output and the library's log lines."""

from __future__ import annotations


def human_size(n: int) -> str:
    """``21977996`` → ``21.0 MiB`` (binary units, as ``ls -h`` and kubectl use)."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def human_duration(seconds: float) -> str:
    """``0.42`` → ``0.4 s``, ``31.2`` → ``31 s``, ``125`` → ``2 min 5 s``, ``3725`` → ``1 h 2 min``."""
    if seconds < 10:
        return f"{max(seconds, 0):.1f} s"
    total = round(seconds)
    if total < 60:
        return f"{total} s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"
