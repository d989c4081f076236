"""Directories a runtime fills that may already hold someone else's data (issue 12, ownership).

A host's etcd data dir or CNI config dir can belong to the host (Debian's etcd keeps its data in
``/var/lib/etcd/default``; another runtime's CNI config sits in ``/etc/cni/net.d``). sealkit must
not take them silently and must never delete them on reset. So:

* preflight refuses a host where such a directory holds anything and sealkit has no record of
  the host (it never touched it), naming the path — unless the operator lists the path in the
  take-over env key (``SEALKIT_TAKE_OVER=/var/lib/etcd,/etc/cni/net.d`` in the cluster or host env);
* the first change to a host records each directory's state (absent / empty / full, with mode and
  owner) in ``/var/lib/sealkit/prior/<runtime>.paths``; a taken-over directory's content is moved
  aside (``<runtime>.parked/<n>``) so the runtime starts from empty and the data stays intact;
* reset puts each directory back as recorded: removed when it did not exist, emptied when it was
  empty, its parked content moved back when it was full (byte-identical: ``mv`` keeps the files).

Without a record (the host was never prepared) reset touches none of these directories: nothing
in them can be ours.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sealkit import hostops
from sealkit.errors import StepFailed

if TYPE_CHECKING:
    from sealkit.context import ClusterContext, HostRef

#: env key (cluster or host env) listing the paths the operator lets sealkit take over
TAKE_OVER_ENV = "SEALKIT_TAKE_OVER"
_STATES = ("absent", "empty", "full", "other")


@dataclass(frozen=True)
class Claimed:
    """A directory the runtime writes into, and what it is (for the operator's message)."""

    path: str
    what: str


def record_path(runtime: str) -> str:
    return f"{hostops.PRIOR_DIR}/{runtime}.paths"


def park_dir(runtime: str) -> str:
    return f"{hostops.PRIOR_DIR}/{runtime}.parked"


def take_over(ctx: ClusterContext, host: HostRef) -> set[str]:
    """The paths the operator lets sealkit take over on ``host`` (``all`` = every claimed path)."""
    raw = ctx.cluster.env_for(host.spec).get(TAKE_OVER_ENV, "")
    return {p.strip().rstrip("/") or "/" for p in raw.split(",") if p.strip()}


def _state_sh(path: str) -> str:
    """Shell printing the directory's state: absent | empty | full | other (a non-directory)."""
    q = shlex.quote(path)
    return (
        f'if [ -d {q} ] && [ ! -L {q} ]; then if [ -n "$(ls -A {q} 2>/dev/null)" ]; then echo full; '
        f"else echo empty; fi; elif [ -e {q} ] || [ -L {q} ]; then echo other; else echo absent; fi"
    )


def probe_script(runtime: str, claimed: Iterable[Claimed]) -> str:
    """One round trip: ``record=1`` when sealkit has a record of the host, ``p<n>=<state>`` per path."""
    lines = [f"[ -e {shlex.quote(record_path(runtime))} ] && echo record=1"]
    lines += [f'echo "p{n}=$({_state_sh(c.path)})"' for n, c in enumerate(claimed)]
    return "; ".join(lines) + "; true"


def parse_probe(text: str) -> dict[str, str]:
    """``{key: value}`` of the probe's output; values outside the closed set are dropped."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and re.fullmatch(r"record|p\d+", key) and (value in _STATES or key == "record"):
            out[key] = value
    return out


def foreign(facts: Mapping[str, str], claimed: list[Claimed], allowed: set[str], *, host: str) -> list[str]:
    """Preflight problems: claimed directories with content sealkit did not put there."""
    if facts.get("record") == "1":
        return []  # sealkit prepared this host: foreign content was refused or parked then
    problems = []
    for n, c in enumerate(claimed):
        state = facts.get(f"p{n}", "")
        if state == "other":
            problems.append(f"{c.path} ({c.what}) exists but is not a directory: remove it or move it away")
        elif state == "full" and c.path not in allowed and "all" not in allowed:
            problems.append(
                f"{c.path} ({c.what}) already holds data that sealkit did not create; "
                f"move it away, or let sealkit park it for the life of the cluster and give it back "
                f"on reset with env {TAKE_OVER_ENV}={c.path} (on {host})"
            )
    return problems


def remember(host: HostRef, runtime: str, claimed: list[Claimed], allowed: set[str]) -> None:
    """Record each claimed directory's state before sealkit's first change, and park the content of
    taken-over ones. Only the first call acts: a re-run must not take sealkit's files for the host's."""
    rec, park = shlex.quote(record_path(runtime)), park_dir(runtime)
    body = []
    for n, c in enumerate(claimed):
        q = shlex.quote(c.path)
        dest = shlex.quote(f"{park}/{n}")
        take = c.path in allowed or "all" in allowed
        full = (
            f"mkdir -p {dest} && find {q} -mindepth 1 -maxdepth 1 -exec mv -t {dest} {{}} + || exit 1"
            if take
            else f"echo {shlex.quote('foreign data in ' + c.path)} >&2; exit 3"
        )
        body.append(
            f"s=$({_state_sh(c.path)}); "
            f'if [ "$s" = other ]; then echo {shlex.quote(c.path + " is not a directory")} >&2; exit 3; fi; '
            f'm=""; if [ "$s" != absent ]; then m=$(stat -c "%a %u %g" {q}); fi; '
            f'echo "p{n}=$s $m" >> {rec}.tmp; '
            f'if [ "$s" = full ]; then {full}; fi'
        )
    script = (
        f"[ -e {rec} ] && exit 0; mkdir -p {hostops.PRIOR_DIR} && rm -f {rec}.tmp && "
        + "; ".join(body)
        + f"; mv -f {rec}.tmp {rec}"
    )
    res = host.conn.run(f"( {script} )", check=False, timeout=300)
    if res.rc != 0:
        raise StepFailed(
            f"could not record the host's own data before changing it: {res.stderr.strip() or res.rc}",
            host=host.ip,
            step="ownership",
            hint=f"move the data away or list the path in env {TAKE_OVER_ENV}, then run again",
        )


def give_back(host: HostRef, runtime: str, claimed: list[Claimed]) -> None:
    """On reset: each claimed directory back to its recorded state; nothing without a record."""
    rec = record_path(runtime)
    text = host.conn.run(f"cat {shlex.quote(rec)} 2>/dev/null; true", timeout=30).stdout
    if not text.strip():
        return
    recorded: dict[str, tuple[str, str, str, str]] = {}
    for line in text.splitlines():  # untrusted: only the closed forms remember() writes
        m = re.fullmatch(r"(p\d+)=(?:(absent)|(empty|full) ([0-7]{3,4}) (\d+) (\d+))", line.strip())
        if m:
            recorded[m.group(1)] = (
                m.group(2) or m.group(3),
                m.group(4) or "",
                m.group(5) or "",
                m.group(6) or "",
            )
    park = park_dir(runtime)
    for n, c in enumerate(claimed):
        if f"p{n}" not in recorded:
            continue
        state, mode, uid, gid = recorded[f"p{n}"]
        if state == "absent":
            hostops.remove_paths(host, c.path)
            continue
        q = shlex.quote(c.path)
        restore = f"mkdir -p {q} && find {q} -mindepth 1 -delete && chmod {mode} {q} && chown {uid}:{gid} {q}"
        if state == "full":
            src = shlex.quote(f"{park}/{n}")
            restore += (
                f" && if [ -d {src} ]; then find {src} -mindepth 1 -maxdepth 1 -exec mv -t {q} {{}} +; fi"
            )
        host.conn.run(restore, timeout=300)
    host.conn.run(
        f"rm -rf {shlex.quote(park)} {shlex.quote(rec)}; "
        f"rmdir --ignore-fail-on-non-empty {hostops.PRIOR_DIR} 2>/dev/null; true",
        timeout=60,
    )
