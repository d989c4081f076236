"""Version rules for upgrades: one minor at a time, never down, never across majors."""

from __future__ import annotations

import re

from sealkit.errors import UsageError

_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?")


def parse(version: str) -> tuple[int, int, int]:
    """``v1.30.4+k3s1`` → (1, 30, 4); raises UsageError for anything that is not a version."""
    m = _VERSION.match(version.strip())
    if not m:
        raise UsageError(
            f"{version!r} is not a Kubernetes version (like v1.30.4)",
            hint="label the cluster image with sealkit.io/version=v1.30.4",
        )
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)


def plan_upgrade(current: str, target: str) -> str | None:
    """None when nothing changes; the target when it is a patch or the next minor; else UsageError."""
    if not current or not target or current == target:
        return None
    cur, tgt = parse(current), parse(target)
    if tgt == cur:
        return None
    if tgt < cur:
        raise UsageError(
            f"refusing to downgrade from {current} to {target}",
            hint="Kubernetes does not support downgrades; restore from a backup instead",
        )
    if tgt[0] != cur[0]:
        raise UsageError(f"refusing to upgrade across major versions ({current} → {target})")
    if tgt[1] > cur[1] + 1:
        step = f"v{cur[0]}.{cur[1] + 1}"
        raise UsageError(
            f"refusing to skip a minor version ({current} → {target})",
            hint=f"upgrade to a {step}.x image first, then to {target}",
        )
    return target


def check_supported(version: str, *, runtime: str, oldest: str, newest: str) -> None:
    """UsageError when ``version`` is outside the runtime's declared support range.

    Compared by minor (and patch where the bound names one): ``oldest=v1.30.0, newest=v1.34.99`` admits
    every v1.30.x … v1.34.x. An empty bound is open.
    """
    got = parse(version)
    if oldest and got < parse(oldest):
        raise UsageError(
            f"the {runtime} plugin supports {oldest} and newer; the image is {version}",
            hint=f"use a {runtime} cluster image between {oldest} and {newest or 'the newest release'}",
        )
    if newest and got > parse(newest):
        raise UsageError(
            f"the {runtime} plugin supports releases up to {newest}; the image is {version}",
            hint=f"use a {runtime} cluster image between {oldest or 'the oldest release'} and {newest}, "
            "or a newer sealkit",
        )
