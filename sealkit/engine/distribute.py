"""Content-addressed distribution of the cluster image's rootfs to hosts.

Peers copy everything again on a retry (sealer #823) or ask the remote for one md5 per file (#716). Here:

* the controller computes the rootfs manifest (path → sha256, size, mode) once per image digest and caches it
  next to the immutable unpacked rootfs;
* one round trip reads the host's manifest of what it already has (written only after a verified sync) and
  the sizes of the files actually present, so a deleted or truncated file is noticed;
* one more round trip streams a tar of only the missing files into a staging dir on the host, where
  ``sha256sum -c`` verifies every file before each is renamed into place; the host's manifest is replaced
  last. An interrupted copy leaves the staging dir (removed next time) and never a half-written file in place.

A re-run with nothing to send costs one round trip and 0 bytes per host.

Symlinks travel too (as control data, not content), but only those that resolve inside the rootfs: a link
to ``/etc/shadow`` or up through ``..`` is left out with a warning naming it. Empty directories travel as
well. The commit script runs with ``set -e`` and writes the manifest last, so the manifest never lists a
file that is not in place and verified; a failed copy removes its staging dir.

Many hosts (:func:`push_rootfs_many`): hosts that need the same payload (same rootfs, same missing files,
same prune list) and have python3 form a chain. The controller streams ONE tar over SSH to the first host;
each host passes it on to the next over TLS 1.3, both ends presenting the chain's own key pair (made by the
controller for this relay, sent over SSH, pinned), then a one-time token; it writes the members' content
into its staging dir, so the controller's uplink carries the payload once instead of once per host. Names,
sizes, modes and sums come to every host over its own SSH session, never from the hop: each file is
verified against the controller's sha256 before anything is put in place, exactly as above. A host that
cannot take part, whose hop fails, or that goes silent (host or network down: given up on after
``RELAY_STALL_TIMEOUT``) gets the direct copy. A relay helper ends with its SSH session. The hop itself
(the helper program, the chain's key pair, the config wire, topology) is :mod:`sealkit.engine.relay`.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import secrets
import shlex
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Any, TypeVar

from sealkit.context import INSTALLED_MARKER, REMOTE_APPS, REMOTE_ROOT
from sealkit.engine.relay import (
    RELAY_FANOUT,
    RELAY_HELPER,
    Gate,
    HeadInput,
    RelayKeys,
    TarStream,
    encode_config,
    relay_links,
    relay_waves,
    split_chain,
)
from sealkit.errors import SealkitError, StepFailed, controller_io
from sealkit.state import atomic_write

if TYPE_CHECKING:
    from sealkit.context import ClusterContext, HostRef

log = logging.getLogger("sealkit.engine")

MANIFEST_NAME = ".sealkit-manifest.json"
#: v2: symlinks and empty directories are entries too (a v1 cache lacks them and is ignored)
LOCAL_MANIFEST_SUFFIX = ".manifest-v2.json"

#: payloads smaller than this go direct: a relay costs two extra round trips to set up
RELAY_MIN_BYTES = 4 << 20
#: how a relay host verifies the files against the controller's sums before renaming any into place:
#: "stream" (hash each piece as it is decrypted and written to the file: no pass after the transfer),
#: "hashlib" (a pass after the transfer) — both python3's OpenSSL sha256, which uses the CPU's SHA
#: instructions: ~3x less CPU than coreutils here — or "sha256sum" (``sha256sum -c``, as the
#: direct copy does)
RELAY_VERIFY = "stream"
#: seconds to wait for every listener to report its port
RELAY_SETUP_TIMEOUT = 60.0
#: a relay host that prints nothing (not even its 2-second BEAT) for this long is given up on: its host
#: or network is down. Without it the controller waited for the SSH session until TCP gave up (minutes).
RELAY_STALL_TIMEOUT = 15.0
_PYTHON_MARK = "---python3---"

T = TypeVar("T")


@dataclass(frozen=True)
class Entry:
    """One thing of the rootfs: a regular file (``kind`` "f"), a symlink ("l", ``target`` its text) or an
    empty directory ("d"). ``sha256`` is what the host's manifest records for it: the content's digest
    for a file, ``symlink:<target>`` for a link, ``dir`` for a directory."""

    path: str
    sha256: str
    size: int
    mode: int
    kind: str = "f"
    target: str = ""


def _link_inside(rootfs: Path, rel: str) -> bool:
    """True when the symlink ``rel`` resolves (on the controller's copy, which is what the host gets)
    to a path inside ``rootfs``: no absolute target, no way up and out through ``..`` or another link."""
    target = os.readlink(rootfs / rel)
    if target.startswith("/"):
        return False
    real_root = os.path.realpath(rootfs)
    resolved = os.path.realpath(rootfs / rel)
    return resolved == real_root or resolved.startswith(real_root + os.sep)


def _check_name(rootfs: Path, rel: str, what: str) -> None:
    if "\n" in rel or "\t" in rel:
        raise StepFailed(
            f"{what} {rel!r} of {rootfs} contains a newline or tab, which sealkit cannot distribute",
            step="distribute",
            hint="rename it in the image and rebuild",
        )


def local_manifest(rootfs: Path) -> dict[str, Entry]:
    """Manifest of an unpacked rootfs; cached beside it (the rootfs is immutable per image digest).

    Regular files, symlinks whose target stays inside the rootfs, and empty directories. A link that
    points outside (absolute, or up through ``..``) is left out with a warning naming it: on a host it
    would reach the host's own files, which an image must not be able to do.
    """
    cache = rootfs.with_name(rootfs.name + LOCAL_MANIFEST_SUFFIX)
    if cache.exists() and cache.stat().st_mtime >= rootfs.stat().st_mtime:
        raw = json.loads(cache.read_text())
        return {e["path"]: Entry(**e) for e in raw}
    entries: dict[str, Entry] = {}
    dirs: list[str] = []
    for dirpath, dirnames, filenames in os.walk(rootfs):
        here = Path(dirpath)
        real_dirs = []
        for name in sorted(dirnames + filenames):
            full = here / name
            rel = full.relative_to(rootfs).as_posix()
            if full.is_symlink():
                _check_name(rootfs, rel, "symlink")
                target = os.readlink(full)
                _check_name(rootfs, target, f"target of symlink {rel!r}:")
                if not _link_inside(rootfs, rel):
                    log.warning(
                        "rootfs %s: not distributing the symlink %s -> %s: it points outside the rootfs",
                        rootfs,
                        rel,
                        target,
                    )
                    continue
                entries[rel] = Entry(rel, f"symlink:{target}", 0, 0o777, "l", target)
            elif full.is_dir():
                real_dirs.append(name)
                dirs.append(rel)
            elif full.is_file():
                _check_name(rootfs, rel, "file")
                st = full.stat()
                entries[rel] = Entry(rel, _sha256_file(full), st.st_size, st.st_mode & 0o7777)
        dirnames[:] = sorted(real_dirs)
    holding = {str(parent) for rel in [*entries, *dirs] for parent in PurePosixPath(rel).parents}
    for rel in dirs:
        if rel not in holding:
            _check_name(rootfs, rel, "directory")
            entries[rel] = Entry(rel, "dir", 0, 0o755, "d")
    entries = dict(sorted(entries.items()))
    atomic_write(cache, json.dumps([e.__dict__ for e in entries.values()]), 0o644)
    return entries


def _files(entries: Iterable[Entry]) -> list[Entry]:
    """The regular files of ``entries``: what travels as content (links and dirs travel as control data)."""
    return [e for e in entries if e.kind == "f"]


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def plan_transfer(
    local: dict[str, Entry],
    remote: dict[str, str],
    sizes: dict[str, int],
    links: dict[str, str] | None = None,
    dirs: set[str] | None = None,
) -> list[Entry]:
    """What the host lacks: files absent from its manifest, with another digest, or missing/resized on
    disk; symlinks missing or pointing elsewhere; directories not there."""
    links = links or {}
    present_dirs = set(dirs or ())
    present_dirs.update(str(p) for rel in [*sizes, *links] for p in PurePosixPath(rel).parents)
    out = []
    for path, e in sorted(local.items()):
        if e.kind == "l":
            lacking = links.get(path) != e.target or remote.get(path) != e.sha256
        elif e.kind == "d":
            lacking = path not in present_dirs or path in sizes or path in links
        else:
            lacking = remote.get(path) != e.sha256 or sizes.get(path) != e.size
        if lacking:
            out.append(e)
    return out


def _probe_script(root: str) -> str:
    q = shlex.quote(root)
    # the marker goes first: from here on, files under the runtime's dirs are ours, so a re-run after a
    # failure does not mistake them for a foreign cluster in preflight
    return (
        f"mkdir -p {q} {REMOTE_ROOT} && touch {INSTALLED_MARKER} && cd {q} && rm -rf .sealkit-staging.* && "
        + _listing_script()
    )


def _listing_script() -> str:
    """What the host has (run in its rootfs dir): the manifest, then its files, symlinks, empty dirs."""
    return (
        f"(cat {MANIFEST_NAME} 2>/dev/null || echo '{{}}') && echo '---sizes---' && "
        "find . -mindepth 1 \\( -type f ! -name '.sealkit-*' -printf 'f\\t%P\\t%s\\n' \\) "
        "-o \\( -type l -printf 'l\\t%P\\t%l\\n' \\) -o \\( -type d -empty -printf 'd\\t%P\\n' \\)"
    )


def _parse_probe(out: str) -> tuple[dict[str, str], dict[str, int]]:
    """The host's manifest and the sizes of its regular files (see :func:`_parse_tree` for the rest)."""
    manifest_text, _, size_text = out.partition("---sizes---")
    try:
        remote = json.loads(manifest_text.strip() or "{}")
    except json.JSONDecodeError:
        remote = {}  # a damaged manifest means "has nothing verified": everything is re-sent
    if not isinstance(remote, dict):
        remote = {}
    sizes = {}
    for line in size_text.strip().splitlines():
        if line.startswith(("l\t", "d\t")):
            continue
        path, _, size = line.removeprefix("f\t").rpartition("\t")
        if size.isdigit():
            sizes[path] = int(size)
    return remote, sizes


def _parse_tree(out: str) -> tuple[dict[str, str], set[str]]:
    """The host's symlinks (path → target) and empty directories, from the probe's listing."""
    links: dict[str, str] = {}
    dirs: set[str] = set()
    for line in out.partition("---sizes---")[2].splitlines():
        kind, _, rest = line.partition("\t")
        if kind == "l":
            path, sep, target = rest.partition("\t")
            if sep:
                links[path] = target
        elif kind == "d" and rest:
            dirs.add(rest)
    return links, dirs


def _verify_script(stage: str) -> str:
    """``sha256sum -c`` of the staged files (run in the rootfs dir)."""
    s = shlex.quote(stage)
    return f"if [ -s {s}/.sealkit-sums ]; then (cd {s} && sha256sum -c --quiet .sealkit-sums); fi"


def _commit_script(stage: str) -> str:
    """Put the verified files in place, then links and dirs; the manifest last (run in the rootfs dir).

    ``set -e``: the first failure stops it, so the manifest (which says "all of this is in place and
    verified") is never written over a partial result. Paths come from the controller's manifest; the
    ``./`` prefix keeps a name starting with ``-`` from reading as an option. Pruning goes first, so a
    path that changed type (file → dir, dir → link) is free when its new kind arrives.
    """
    s = shlex.quote(stage)
    return (
        "set -e; "
        f'while IFS= read -r p; do rm -f -- "./$p"; done < {s}/.sealkit-prune; '
        f'while IFS= read -r p; do mkdir -p -- "$(dirname -- "./$p")"; mv -fT -- {s}/"$p" "./$p"; '
        f"done < {s}/.sealkit-files; "
        'while IFS= read -r p && IFS= read -r t; do mkdir -p -- "$(dirname -- "./$p")"; '
        f'rm -rf -- "./$p"; ln -sT -- "$t" "./$p"; done < {s}/.sealkit-links; '
        f'while IFS= read -r p; do mkdir -p -- "./$p"; done < {s}/.sealkit-dirs; '
        f"mv -f {s}/{MANIFEST_NAME} {MANIFEST_NAME}; rm -rf {s}"
    )


def _install_script(root: str, stage: str) -> str:
    """Extract into staging, verify every file, put everything in place; the staging dir never outlives it."""
    q, s = shlex.quote(root), shlex.quote(stage)
    return (
        f"set -e; cd {q}; trap 'rm -rf {s}' EXIT; mkdir -p {s}; tar -x -C {s} --no-same-owner; "
        f"{_verify_script(stage)}; {_commit_script(stage)}"
    )


@dataclass(frozen=True)
class HostState:
    """What one host needs, from one probe: the payload is identical for hosts with equal ``payload_key``."""

    ip: str
    rootfs: Path
    missing: tuple[Entry, ...]
    prune: tuple[str, ...]
    in_sync: bool
    python: str | None = None  # absolute path of python3 on the host, None when it has none

    @property
    def payload_key(self) -> tuple[str, tuple[Entry, ...], tuple[str, ...]]:
        return (str(self.rootfs), self.missing, self.prune)

    @property
    def payload_bytes(self) -> int:
        return sum(e.size for e in self.missing)


def _state_from_probe(ip: str, rootfs: Path, local: dict[str, Entry], out: str) -> HostState:
    body, mark, tail = out.rpartition(f"\n{_PYTHON_MARK}\n")
    if not mark:
        body, tail = out, ""
    python = next((ln.strip() for ln in tail.splitlines() if ln.strip().startswith("/")), None)
    remote, sizes = _parse_probe(body)
    links, dirs = _parse_tree(body)
    missing = plan_transfer(local, remote, sizes, links, dirs)
    kinds = {p: e.kind for p, e in local.items()}
    prune = sorted({p for p in sizes if kinds.get(p) != "f"} | {p for p in links if kinds.get(p) != "l"})
    in_sync = not missing and not prune and remote == {p: e.sha256 for p, e in local.items()}
    return HostState(ip, rootfs, tuple(missing), tuple(prune), in_sync, python)


def _probe(host: HostRef, root: str, rootfs: Path, local: dict[str, Entry], *, python: bool) -> HostState:
    script = _probe_script(root)
    if python:
        # the system python3 first: a shim on PATH (pyenv, asdf) costs a shell and a lookup per start
        script = (
            f"{{ {script}; }} && echo {_PYTHON_MARK} && "
            "{ if [ -x /usr/bin/python3 ]; then echo /usr/bin/python3; else command -v python3 || true; fi; }"
        )
    try:
        out = host.conn.run(script, timeout=300).stdout
    except SealkitError as err:
        log.debug("%s: distribute: the probe failed: %s", host.ip, err)
        why, hint = describe_failure(err)
        raise StepFailed(
            f"reading what {root} holds failed: {why}", host=host.ip, step="distribute", hint=hint
        ) from err
    return _state_from_probe(host.ip, rootfs, local, out)


def push_rootfs(ctx: ClusterContext, ip: str, rootfs: Path) -> int:
    """Bring the host's copy of the rootfs to exactly ``rootfs``; returns the bytes sent."""
    host = ctx.hosts[ip]
    local = local_manifest(rootfs)
    state = _probe(host, ctx.remote_rootfs, rootfs, local, python=False)
    return _send_direct(ctx, host, state, local)


def _send_direct(ctx: ClusterContext, host: HostRef, state: HostState, local: dict[str, Entry]) -> int:
    """One tar of what ``state`` says the host lacks, over the host's own SSH session."""
    if state.in_sync:
        return 0
    root = ctx.remote_rootfs
    manifest = {p: e.sha256 for p, e in local.items()}
    with tempfile.SpooledTemporaryFile(max_size=64 << 20) as buf:
        with controller_io(
            f"spooling the rootfs tar for {host.ip} under", tempfile.gettempdir(), step="distribute"
        ):
            _write_tar(buf, state.rootfs, list(state.missing), manifest, list(state.prune))
        size = buf.tell()
        attempts = 0
        while True:
            buf.seek(0)
            attempts += 1
            host.facts["bytes_sent"] = int(host.facts.get("bytes_sent", 0)) + size
            if _install(host, root, buf, last=attempts > DIRECT_RETRIES):
                return size * attempts


def _install(host: HostRef, root: str, tar: IO[bytes], *, last: bool) -> bool:
    """Send one rootfs tar through the install script: True when it is in place, False when the SSH link
    dropped and (not ``last``) the caller may send it again: the copy is idempotent (staged, verified,
    then moved into place), so a dropped link costs one more send instead of the whole run."""
    # a fresh staging name per attempt: a lost attempt's shell may still be removing its own
    stage = f".sealkit-staging.{os.getpid()}-{secrets.token_hex(3)}"
    try:
        host.conn.run(_install_script(root, stage), stdin=tar, timeout=None)
        return True
    except SealkitError as err:
        log.debug("%s: distribute: the install script failed: %s", host.ip, err)
        if not last and link_lost(err):
            log.warning("%s: the SSH link dropped while copying the rootfs; sending it again", host.ip)
            return False
        why, hint = describe_failure(err)
        raise StepFailed(
            f"copying the rootfs into {root} failed: {why}", host=host.ip, step="distribute", hint=hint
        ) from err


#: extra sends of a direct copy whose SSH link dropped mid-transfer (the connection re-dials first)
DIRECT_RETRIES = 1


def link_lost(err: BaseException) -> bool:
    """The SSH link died while a command ran (not a timeout, not the command's own failure)."""
    return bool(getattr(err, "link_lost", False))


#: what a failed remote command's output may name as its cause (each has its own hint below)
KNOWN_CAUSES = ("no space left", "read-only file system", "permission denied")


def describe_failure(err: BaseException) -> tuple[str, str]:
    """What went wrong with a remote script, and the fix for that cause, without the script's text.

    The command line of a failed run (a long shell or python program) goes to the debug log only; the
    message keeps the exit status and the last line the host printed.
    """
    result = getattr(err, "result", None)
    if result is None:
        text = getattr(err, "message", None) or str(err)
        return text, "check that the host is up and reachable over SSH, then re-run"
    lines = [ln.strip() for ln in (result.stderr or result.stdout).splitlines() if ln.strip()]
    # tar names the cause on an earlier line and ends with a summary ("Exiting with failure status due to
    # previous errors"): the last line that names a known cause wins over the summary
    tail = next((ln for ln in reversed(lines) if any(c in ln.lower() for c in KNOWN_CAUSES)), "")
    tail = tail or (lines[-1] if lines else "")
    if result.rc == -1 and not link_lost(err):
        why = "it timed out"
    elif result.rc == -1:
        why = "the SSH session was lost"
    else:
        why = f"exit status {result.rc}"
    why += f" ({tail})" if tail else ""
    low = tail.lower()
    if "no space left" in low:
        hint = "free space under /var/lib/sealkit on the host, then re-run"
    elif result.rc == -1:
        hint = "check the host and the network, then re-run (nothing half-copied is left in place)"
    elif "read-only file system" in low or "permission denied" in low:
        hint = "make /var/lib/sealkit writable for the login user (or use root/sudo), then re-run"
    else:
        hint = "re-run; with -v the log shows the command that failed"
    return why, hint


def _write_tar(
    buf: IO[bytes], rootfs: Path, files: list[Entry], manifest: dict[str, str], prune: list[str]
) -> None:
    """The payload: missing files plus the control files the install script reads."""
    control = _control_files(files, manifest, prune)
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for e in _files(files):
            info = tar.gettarinfo(str(rootfs / e.path), arcname=e.path)
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            with (rootfs / e.path).open("rb") as f:
                tar.addfile(info, f)
        for name, text in control.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o600
            tar.addfile(info, io.BytesIO(data))


def remove_rootfs(ctx: ClusterContext, host: HostRef) -> None:
    """Reset: the rootfs copy, the apps' files and sealkit's marker files go away."""
    host.conn.run(
        f"rm -rf {shlex.quote(ctx.remote_rootfs)} {REMOTE_APPS} {INSTALLED_MARKER} && "
        # whatever a plugin left under it stays visible (and `sealkit reset` tests catch it)
        f"if [ -d {REMOTE_ROOT} ]; then rmdir --ignore-fail-on-non-empty {REMOTE_ROOT}; fi"
    )


def bytes_sent(ctx: ClusterContext) -> int:
    """Bytes of rootfs content sent to hosts in this run (0 on a re-run that had nothing to send)."""
    return sum(int(h.facts.get("bytes_sent", 0)) for h in ctx.hosts.values())


# ------------------------------------------------------------------------------- many hosts: relay
def _control_files(
    entries: Sequence[Entry], manifest: dict[str, str], prune: Sequence[str]
) -> dict[str, str]:
    """The files the commit script reads from the staging dir, besides the payload (file contents)."""
    files = _files(entries)
    return {
        ".sealkit-sums": "".join(f"{e.sha256}  {e.path}\n" for e in files),
        ".sealkit-files": "".join(f"{e.path}\n" for e in files),
        ".sealkit-links": "".join(f"{e.path}\n{e.target}\n" for e in entries if e.kind == "l"),
        ".sealkit-dirs": "".join(f"{e.path}\n" for e in entries if e.kind == "d"),
        ".sealkit-prune": "".join(f"{p}\n" for p in prune),
        MANIFEST_NAME: json.dumps(manifest, sort_keys=True),
    }


@dataclass
class DistributionPlan:
    """Who gets what how: relay chains (first host fed by the controller), direct copies, no-ops."""

    chains: list[list[str]] = field(default_factory=list)
    direct: list[str] = field(default_factory=list)
    in_sync: list[str] = field(default_factory=list)
    #: why each host of ``direct`` is not relayed
    reasons: dict[str, str] = field(default_factory=dict)


def group_hosts(states: Iterable[HostState]) -> list[list[HostState]]:
    """Hosts that need exactly the same payload, in first-seen order; hosts in sync are left out."""
    groups: dict[tuple[str, tuple[Entry, ...], tuple[str, ...]], list[HostState]] = {}
    for s in states:
        if not s.in_sync:
            groups.setdefault(s.payload_key, []).append(s)
    return list(groups.values())


def plan_distribution(states: Iterable[HostState], *, concurrency: int, min_bytes: int) -> DistributionPlan:
    """Group identical payloads; groups of ≥ 2 hosts with python3 and ≥ ``min_bytes`` are relayed.

    A chain holds at most ``concurrency`` hosts (every member needs an SSH session at once).
    """
    plan = DistributionPlan()
    states = list(states)
    plan.in_sync = [s.ip for s in states if s.in_sync]
    for group in group_hosts(states):
        relayable = [s.ip for s in group if s.python]
        for s in group:
            if not s.python:
                plan.direct.append(s.ip)
                plan.reasons[s.ip] = "no python3 on the host's PATH"
        if len(relayable) >= 2 and group[0].payload_bytes >= min_bytes:
            plan.chains += split_chain(relayable, concurrency)
            continue
        if len(relayable) >= 2:
            why = f"payload of {group[0].payload_bytes} bytes is below the relay threshold ({min_bytes})"
        elif len(group) < 2:
            why = "no other host needs the same payload"
        else:
            why = "no other host with the same payload has python3"
        for ip in relayable:
            plan.direct.append(ip)
            plan.reasons[ip] = why
    return plan


@dataclass
class _Member:
    """One host of a relay chain, as the controller tracks it."""

    host: HostRef
    python: str
    head: bool
    token: str = field(default_factory=lambda: secrets.token_hex(32))
    stage: str = field(default_factory=lambda: f".sealkit-staging.relay-{secrets.token_hex(4)}")
    gate: Gate = field(default_factory=Gate)
    port: int | None = None
    accepted: bool = False
    stats: dict[str, Any] | None = None
    failed: str | None = None  # "step: message" from the helper
    aborted: str | None = None  # why the controller gave up on it
    error: str | None = None  # the final reason it did not complete
    sent: int = 0  # bytes the controller sent it
    ready: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    last_seen: float = field(default_factory=time.monotonic)  # when it last printed anything
    stalled: bool = False  # the controller stopped waiting for it (silent too long)

    @property
    def ip(self) -> str:
        return self.host.ip

    @property
    def ok(self) -> bool:
        return self.error is None and self.stats is not None


def relay_config(
    root: str,
    stage: str,
    stream: TarStream,
    slots: list[list[list[Any]]],
    control: dict[str, str],
    token: str | None,
    verify: str = RELAY_VERIFY,
    *,
    tls: RelayKeys,
) -> dict[str, Any]:
    """The config a relay helper reads from stdin; ``token`` is what a listener expects from upstream.

    ``slots`` are the downstream hosts as ``[[ip, port, token], ...]`` candidate lists (see relay_links);
    ``tls`` is the chain's key pair, which every hop presents and pins.
    """
    cfg: dict[str, Any] = {
        "tls_cert": tls.cert_pem,
        "tls_key": tls.key_pem,
        "root": root,
        "stage": stage,
        "size": stream.size,
        "layout": stream.layout,
        "slots": slots,
        "control": control,
        "verify": verify if verify in ("stream", "hashlib") else _verify_script(stage),
        "commit": _commit_script(stage),
    }
    if token is not None:
        cfg["token"] = token
    return cfg


class _Chain:
    """One relay: every member's helper starts at once; listeners report their ports, then each member
    gets its config (the head's stdin blocks until then) and the head streams the tar."""

    def __init__(
        self, ctx: ClusterContext, states: Sequence[HostState], local: dict[str, Entry], fanout: int
    ) -> None:
        self.ctx = ctx
        self.state = states[0]
        self.local = local
        self.fanout = fanout
        self.members = [
            _Member(ctx.hosts[s.ip], s.python or "python3", head=i == 0) for i, s in enumerate(states)
        ]
        self.by_ip = {m.ip: m for m in self.members}
        self.stream = TarStream(self.state.rootfs, _files(self.state.missing))
        self.timeout = 300 + self.stream.size / (1 << 20)
        self.keys = RelayKeys.generate()

    def run(self) -> None:
        head, listeners = self.members[0], self.members[1:]
        head_input = HeadInput(self.stream)
        # daemon threads, not a pool: a member whose host died is abandoned (see _wait) and its SSH call
        # may only return at the SSH timeout; nothing may wait for it, not even the interpreter's exit
        for m in self.members:
            stdin: Any = head_input if m.head else m.gate
            threading.Thread(
                target=self._run_member, args=(m, stdin), name=f"sealkit-relay-{m.ip}", daemon=True
            ).start()
        try:
            deadline = time.monotonic() + RELAY_SETUP_TIMEOUT
            while time.monotonic() < deadline and any(
                not m.ready.is_set() and not self._silent(m) for m in listeners
            ):
                time.sleep(0.02)
            live = [head] + [m for m in listeners if m.port is not None and not m.done.is_set()]
            for m in listeners:
                if m not in live:
                    if not m.done.is_set():
                        m.aborted = m.aborted or (
                            f"start: no port within {time.monotonic() - m.last_seen:.0f}s (host down?)"
                        )
                        m.stalled = not m.ready.is_set()
                    m.gate.close()
            links = relay_links([m.ip for m in live], self.fanout)
            for m in live:
                slots = [
                    [[ip, self.by_ip[ip].port, self.by_ip[ip].token] for ip in slot] for slot in links[m.ip]
                ]
                data = encode_config(self._config(m, slots))
                m.sent = len(data)
                if m.head:
                    head_input.start(data)
                else:
                    m.gate.feed(data)
            self._wait(live)
            head.sent = self.stream.read_bytes
            if self.stream.error:  # the controller could not read its own rootfs: say so, not "short stream"
                head.failed = f"read: {self.stream.error}"
        finally:
            head_input.abort()
            for m in self.members:
                m.gate.close()
            self.stream.close()
        for m in self.members:
            if m.stats is not None and m.failed is None:
                continue  # the helper said DONE: the host has the files in place
            own = m.failed if m.failed and "by the controller" not in m.failed else None
            m.error = own or m.aborted or m.failed or m.error or "relay: the helper ended without a result"

    def _silent(self, m: _Member) -> bool:
        return time.monotonic() - m.last_seen > RELAY_STALL_TIMEOUT

    def _wait(self, live: list[_Member]) -> None:
        """Until every member ended or went silent (host down: given up on, its thread left behind)."""
        while True:
            pending = [m for m in self.members if not m.done.is_set() and not m.stalled]
            if not pending:
                return
            pending[0].done.wait(0.5)
            self._abort_orphans(live)
            for m in pending:
                if not m.done.is_set() and self._silent(m):
                    m.stalled = True
                    m.aborted = m.aborted or (
                        f"stalled: no sign of life for {RELAY_STALL_TIMEOUT:g}s (the host or its network "
                        "is down)"
                    )
                    log.warning("%s: relay: %s; giving up on it", m.ip, m.aborted)
                    m.gate.close()

    def _config(self, m: _Member, slots: list[list[list[Any]]]) -> dict[str, Any]:
        """What one host is told over its SSH session (tokens included: never in argv)."""
        manifest = {p: e.sha256 for p, e in self.local.items()}
        control = _control_files(self.state.missing, manifest, self.state.prune)
        return relay_config(
            self.ctx.remote_rootfs,
            m.stage,
            self.stream,
            slots,
            control,
            None if m.head else m.token,
            tls=self.keys,
        )

    def _abort_orphans(self, live: list[_Member]) -> None:
        """A listener whose possible upstreams (every host before it) all ended can never be reached."""
        for i, m in enumerate(live[1:], 1):
            if not m.accepted and not m.done.is_set() and all(p.done.is_set() or p.stalled for p in live[:i]):
                m.aborted = m.aborted or "accept: every upstream host ended without connecting to it"
                m.gate.close()

    def _command(self, m: _Member) -> str:
        role = "head" if m.head else "listen"
        return f"{shlex.quote(m.python)} -c {shlex.quote(RELAY_HELPER)} {role} {shlex.quote(m.ip)}"

    def _run_member(self, m: _Member, stdin: Any) -> None:
        try:
            res = m.host.conn.run(
                self._command(m),
                stdin=stdin,
                timeout=self.timeout,
                check=False,
                on_line=lambda stream, line: self._on_line(m, stream, line),
            )
            if res.rc != 0 and m.failed is None:
                tail = (res.stderr.strip().splitlines() or [""])[-1]
                m.failed = f"relay: helper exited rc={res.rc}" + (f": {tail}" if tail else "")
        except SealkitError as err:
            log.debug("%s: relay helper: %s", m.ip, err)  # the message holds the whole helper program
            m.failed = f"ssh: {describe_failure(err)[0]}"
        except Exception as err:  # any failure of one hop means a direct copy, not a crash
            log.debug("%s: relay helper: controller error", m.ip, exc_info=True)
            m.failed = f"controller: {type(err).__name__}: {err}"
        finally:
            m.done.set()
            m.ready.set()

    def _on_line(self, m: _Member, stream: str, line: str) -> None:
        m.last_seen = time.monotonic()
        if stream != "stdout":
            log.debug("%s: relay: %s", m.ip, line)
            return
        word, _, rest = line.partition(" ")
        try:
            if word == "BEAT":
                return
            if word == "PORT":
                m.port = int(rest)
                m.ready.set()
            elif word == "ACCEPTED":
                m.accepted = True  # its stdin stays open: closing it now means "abort"
            elif word == "REFUSED":
                log.warning("%s: relay: refused a connection: %s", m.ip, rest)
            elif word == "NEXTFAIL":
                ip, _, why = rest.partition(" ")
                peer = self.by_ip.get(ip)
                log.debug("%s: relay: cannot hand on to %s: %s", m.ip, ip, why)
                if peer is not None and not peer.accepted and peer.failed is None:
                    peer.aborted = peer.aborted or f"connect: upstream {m.ip} could not reach it: {why}"
                    peer.gate.close()
            elif word == "DONE":
                m.stats = json.loads(rest)
                m.gate.close()  # it is about to exit: nothing more to say to it
            elif word == "FAIL":
                step, _, why = rest.partition(" ")
                m.failed = f"{step}: {why}"
                m.gate.close()
        except ValueError as err:
            log.debug("%s: relay: unreadable line %r: %s", m.ip, line, err)


def _concurrency(ctx: ClusterContext) -> int:
    return max(1, int(getattr(ctx.fleet, "concurrency", 0) or 32))


def _parallel(fn: Callable[[T], Any], items: Sequence[T], workers: int) -> list[tuple[T, Any]]:
    """``fn`` over ``items`` on at most ``workers`` threads; each item's result or raised exception."""
    if not items:
        return []
    pool = ThreadPoolExecutor(max_workers=max(1, min(workers, len(items))), thread_name_prefix="sealkit-dist")
    try:
        futures = [pool.submit(fn, it) for it in items]
        wait(futures)
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    out: list[tuple[T, Any]] = []
    for it, fut in zip(items, futures, strict=True):
        exc = fut.exception()
        if isinstance(exc, KeyboardInterrupt):
            raise exc
        out.append((it, exc if exc is not None else fut.result()))
    return out


def push_rootfs_many(
    ctx: ClusterContext,
    targets: dict[str, Path],
    *,
    fanout: int = RELAY_FANOUT,
    relay_min_bytes: int = RELAY_MIN_BYTES,
) -> dict[str, int]:
    """Bring every host's rootfs copy to ``targets[ip]``; returns the bytes the controller sent per host.

    Hosts are probed in parallel; hosts that need the same payload and have python3 get it through a
    relay chain (the controller sends it once, to the chain's first host); the others, and every relay
    host that did not complete, get the direct copy of :func:`push_rootfs`. Per host, ``facts`` gets
    ``bytes_sent`` (controller bytes, cumulative), ``bytes_relayed`` (received from a peer, cumulative),
    ``distribute_mode`` (``unchanged`` | ``relay`` | ``direct`` | ``fallback``), ``relay_error`` (why
    a relay host fell back: "step: message"), ``relay_skipped`` (why a host was not put in a relay),
    ``relay_stats`` (the helper's timings and CPU seconds) and ``distribute_timing`` (seconds spent
    probing, relaying and copying directly in this call).
    Raises StepFailed naming every host that could not be brought up to date, after finishing the others.
    """
    ips = list(dict.fromkeys(targets))
    if not ips:
        return {}
    unknown = [ip for ip in ips if ip not in ctx.hosts]
    if unknown:
        raise StepFailed(
            f"no connection for host(s) {', '.join(unknown)}",
            step="distribute",
            hint="this is a bug in the caller: gather facts for every target host first",
        )
    workers = _concurrency(ctx)
    manifests: dict[Path, dict[str, Entry]] = {}
    for rootfs in targets.values():
        if rootfs not in manifests:
            manifests[rootfs] = local_manifest(rootfs)
    root = ctx.remote_rootfs
    sent = dict.fromkeys(ips, 0)
    errors: dict[str, str] = {}
    states: dict[str, HostState] = {}

    def probe(ip: str) -> HostState:
        return _probe(ctx.hosts[ip], root, targets[ip], manifests[targets[ip]], python=True)

    timing: dict[str, float] = {}
    started = time.monotonic()
    hints: dict[str, str] = {}
    for ip, res in _parallel(probe, ips, workers):
        if isinstance(res, BaseException):
            errors[ip] = getattr(res, "message", None) or str(res)
            hints[ip] = getattr(res, "hint", None) or ""
        else:
            states[ip] = res
    timing["probe_s"] = round(time.monotonic() - started, 3)
    started = time.monotonic()
    plan = plan_distribution(
        [states[ip] for ip in ips if ip in states], concurrency=workers, min_bytes=relay_min_bytes
    )
    for ip in plan.in_sync:
        ctx.hosts[ip].facts["distribute_mode"] = "unchanged"
    for ip, why in plan.reasons.items():
        ctx.hosts[ip].facts["relay_skipped"] = why

    fallback: dict[str, str] = {}
    for wave in relay_waves(plan.chains, max(workers, 2)):
        chains = [
            _Chain(ctx, [states[ip] for ip in chain], manifests[targets[chain[0]]], fanout) for chain in wave
        ]
        for chain, res in _parallel(lambda c: c.run(), chains, len(chains)):
            if isinstance(res, BaseException):  # a bug, not a host's fault: whoever said DONE is done
                for m in chain.members:
                    if m.stats is None or m.failed is not None:
                        m.error = m.error or f"relay: {type(res).__name__}: {res}"
            for m in chain.members:
                facts = m.host.facts
                sent[m.ip] += m.sent
                facts["bytes_sent"] = int(facts.get("bytes_sent", 0)) + m.sent
                if m.stats is not None:
                    facts["relay_stats"] = m.stats
                if m.ok:
                    facts["distribute_mode"] = "relay"
                    if not m.head:
                        facts["bytes_relayed"] = int(facts.get("bytes_relayed", 0)) + int(m.stats["bytes"])
                else:
                    fallback[m.ip] = facts["relay_error"] = m.error or "relay: unknown failure"
                    log.warning("%s: relay failed (%s); copying directly", m.ip, m.error)

    timing["relay_s"] = round(time.monotonic() - started, 3)
    started = time.monotonic()

    def direct(ip: str) -> int:
        host = ctx.hosts[ip]
        if ip in fallback:  # the relay may have got part way: look again
            n = push_rootfs(ctx, ip, targets[ip])
        else:
            n = _send_direct(ctx, host, states[ip], manifests[targets[ip]])
        host.facts["distribute_mode"] = "fallback" if ip in fallback else "direct"
        return n

    for ip, res in _parallel(direct, [*plan.direct, *fallback], workers):
        if isinstance(res, BaseException):
            first = f" (after the relay failed at {fallback[ip]})" if ip in fallback else ""
            errors[ip] = f"direct copy: {getattr(res, 'message', None) or res}{first}"
            hints[ip] = getattr(res, "hint", None) or ""
        else:
            sent[ip] += res
    timing["direct_s"] = round(time.monotonic() - started, 3)
    for ip in ips:
        ctx.hosts[ip].facts["distribute_timing"] = dict(timing)
    log.debug("distribute: %s", timing)
    if errors:
        lines = "\n".join(f"  - {ip}: {why}" for ip, why in sorted(errors.items()))
        distinct = {h for h in hints.values() if h}
        raise StepFailed(
            f"copying the rootfs failed on {len(errors)} host(s):\n{lines}",
            host=next(iter(errors)) if len(errors) == 1 else None,
            step="distribute",
            hint=distinct.pop()
            if len(distinct) == 1
            else "fix what is named for each host above, then re-run",
        )
    return sent
