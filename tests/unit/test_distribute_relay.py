"""Relay distribution: grouping and planning (pure), the streamed tar, and the relay helper itself run
as local processes on the loopback interface (no lab, no SSH)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import secrets
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import pytest

from sealkit.engine import distribute as d
from sealkit.engine.distribute import (
    Entry,
    HostState,
    _control_files,
    _state_from_probe,
    _TarStream,
    encode_config,
    group_hosts,
    local_manifest,
    plan_distribution,
    relay_config,
    relay_links,
    relay_waves,
    split_chain,
)

PY = "/usr/bin/python3"
ROOTFS = Path("/img/rootfs")


def entry(path: str, size: int = 10, digest: str = "") -> Entry:
    return Entry(path, digest or hashlib.sha256(path.encode()).hexdigest(), size, 0o644)


def state(
    ip: str, missing=("bin/a",), prune=(), *, python: str | None = PY, rootfs: Path = ROOTFS, size=10 << 20
):
    files = tuple(entry(p, size) for p in missing)
    return HostState(ip, rootfs, files, tuple(prune), in_sync=not missing and not prune, python=python)


# ------------------------------------------------------------------------------------------ probe
def test_probe_output_with_python_path() -> None:
    local = {"bin/a": entry("bin/a", 3)}
    manifest = json.dumps({"bin/a": local["bin/a"].sha256})
    out = f"{manifest}\n---sizes---\nbin/a\t3\nold\t1\n---python3---\n/usr/bin/python3\n"
    s = _state_from_probe("10.0.0.1", ROOTFS, local, out)
    assert s.missing == () and s.prune == ("old",) and not s.in_sync
    assert s.python == "/usr/bin/python3"


def test_probe_output_without_python() -> None:
    local = {"bin/a": entry("bin/a", 3)}
    s = _state_from_probe("10.0.0.1", ROOTFS, local, "{}\n---sizes---\n---python3---\n")
    assert s.python is None and [e.path for e in s.missing] == ["bin/a"]
    # an old-style probe (no marker at all) is read the same way, without python
    s = _state_from_probe("10.0.0.1", ROOTFS, local, "{}\n---sizes---\n")
    assert s.python is None and len(s.missing) == 1


def test_probe_ignores_a_non_path_answer() -> None:
    s = _state_from_probe("h", ROOTFS, {}, "{}\n---sizes---\n---python3---\npython3: aliased\n")
    assert s.python is None and s.in_sync


# --------------------------------------------------------------------------------------- grouping
def test_hosts_with_the_same_payload_form_one_group_in_order() -> None:
    a, b, c = state("10.0.0.1"), state("10.0.0.2"), state("10.0.0.3")
    other = state("10.0.0.4", missing=("bin/a", "bin/b"))
    groups = group_hosts([a, other, b, c])
    assert [[s.ip for s in g] for g in groups] == [["10.0.0.1", "10.0.0.2", "10.0.0.3"], ["10.0.0.4"]]


def test_prune_set_rootfs_and_file_digest_split_groups() -> None:
    base = state("1")
    pruned = state("2", prune=("stale",))
    arm = state("3", rootfs=Path("/img/rootfs-arm64"))
    changed = HostState("4", ROOTFS, (entry("bin/a", 10 << 20, digest="0" * 64),), (), False, PY)
    assert len(group_hosts([base, pruned, arm, changed])) == 4


def test_hosts_in_sync_are_not_grouped() -> None:
    assert group_hosts([state("1", missing=()), state("2", missing=())]) == []


# --------------------------------------------------------------------------------------- planning
def test_plan_relays_a_group_and_copies_the_rest_directly() -> None:
    states = [
        state("1"),
        state("2"),
        state("3", python=None),
        state("4"),
        state("5", missing=("bin/only-me",)),
        state("6", missing=()),
    ]
    plan = plan_distribution(states, concurrency=32, min_bytes=1)
    assert plan.chains == [["1", "2", "4"]]
    assert sorted(plan.direct) == ["3", "5"]
    assert plan.in_sync == ["6"]
    assert "python3" in plan.reasons["3"]
    assert "no other host" in plan.reasons["5"]


def test_plan_a_group_of_one_python_host_goes_direct() -> None:
    plan = plan_distribution([state("1"), state("2", python=None)], concurrency=32, min_bytes=1)
    assert plan.chains == [] and sorted(plan.direct) == ["1", "2"]
    assert "python3" in plan.reasons["1"] and "python3" in plan.reasons["2"]


def test_plan_small_payloads_go_direct() -> None:
    plan = plan_distribution([state("1", size=100), state("2", size=100)], concurrency=32, min_bytes=4096)
    assert plan.chains == [] and plan.direct == ["1", "2"]
    assert "threshold" in plan.reasons["1"]


def test_plan_cuts_chains_to_the_concurrency() -> None:
    states = [state(str(i)) for i in range(10)]
    plan = plan_distribution(states, concurrency=4, min_bytes=1)
    assert [len(c) for c in plan.chains] == [3, 3, 4]
    assert [ip for c in plan.chains for ip in c] == [str(i) for i in range(10)]


@pytest.mark.parametrize("n", range(2, 40))
@pytest.mark.parametrize("limit", [1, 2, 3, 5, 8, 32])
def test_split_chain_keeps_every_host_once_in_chains_of_two_or_more(n: int, limit: int) -> None:
    ips = [f"h{i}" for i in range(n)]
    chains = split_chain(ips, limit)
    assert [ip for c in chains for ip in c] == ips
    assert all(2 <= len(c) <= max(3, limit) for c in chains)
    assert len(chains) == max(1, min(-(-n // max(2, limit)), n // 2))
    assert max(len(c) for c in chains) - min(len(c) for c in chains) <= 1


def test_chain_links_offer_the_next_hosts_as_candidates() -> None:
    links = relay_links(["a", "b", "c", "d", "e"], fanout=1, candidates=3)
    assert links == {"a": [["b", "c", "d"]], "b": [["c", "d", "e"]], "c": [["d", "e"]], "d": [["e"]], "e": []}


def test_tree_links_are_a_heap() -> None:
    links = relay_links(["a", "b", "c", "d", "e", "f"], fanout=2)
    assert links == {"a": [["b"], ["c"]], "b": [["d"], ["e"]], "c": [["f"]], "d": [], "e": [], "f": []}
    every = [ip for slots in links.values() for slot in slots for ip in slot]
    assert sorted(every) == ["b", "c", "d", "e", "f"]  # each host has exactly one upstream


def test_waves_fit_concurrency_and_never_cut_a_chain() -> None:
    chains = [["a", "b", "c"], ["d", "e"], ["f", "g", "h", "i"], ["j", "k"]]
    assert relay_waves(chains, 5) == [[["a", "b", "c"], ["d", "e"]], [["f", "g", "h", "i"]], [["j", "k"]]]
    assert relay_waves([["a", "b", "c"]], 2) == [[["a", "b", "c"]]]


# ------------------------------------------------------------------------------------- tar stream
def _rootfs(tmp_path: Path) -> tuple[Path, dict[str, Entry]]:
    root = tmp_path / "rootfs"
    files = {
        "bin/tool": os.urandom(70_001),
        "etc/empty.conf": b"",
        "etc/exact.block": b"x" * 512,
        "share/" + "long-directory-name/" * 8 + "file with spaces.txt": b"long name\n",
        "lib/ünïcode.so": os.urandom(3000),
    }
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    (root / "bin/tool").chmod(0o755)
    return root, local_manifest(root)


def _read_all(stream: _TarStream, n: int = 4096) -> bytes:
    out = bytearray()
    while chunk := stream.read(n):
        out += chunk
    return bytes(out)


def test_tar_stream_is_a_valid_tar_of_exactly_its_size(tmp_path: Path) -> None:
    root, local = _rootfs(tmp_path)
    files = sorted(local.values(), key=lambda e: e.path)
    stream = _TarStream(root, files)
    stream.prefix(b"config\n")
    data = _read_all(stream, 1000)
    assert data.startswith(b"config\n")
    tar_bytes = data[len(b"config\n") :]
    assert len(tar_bytes) == stream.size and stream.read_bytes == len(data)
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        members = tar.getmembers()
        assert [m.name for m in members] == [e.path for e in files]
        for m, e in zip(members, files, strict=True):
            assert m.size == e.size and m.mode == e.mode and m.uid == 0
            assert tar.extractfile(m).read() == (root / e.path).read_bytes()  # type: ignore[union-attr]
    # the layout says where each member's content sits in the stream
    offset = 0
    for path, header, size, _mode, _mtime in stream.layout:
        offset += header
        assert tar_bytes[offset : offset + size] == (root / path).read_bytes()
        offset += size + (-size % 512)
    assert set(tar_bytes[offset:]) <= {0} and len(tar_bytes) % tarfile.RECORDSIZE == 0


def test_tar_stream_stops_with_an_error_when_a_file_shrank(tmp_path: Path) -> None:
    root, local = _rootfs(tmp_path)
    stream = _TarStream(root, [local["bin/tool"]])
    (root / "bin/tool").write_bytes(b"short")
    data = _read_all(stream)
    assert len(data) < stream.size
    assert stream.error is not None and "shorter" in stream.error


# ---------------------------------------------------------------------------- the helper, locally
HELPER = [sys.executable, "-c", d.RELAY_HELPER]


class Local:
    """One helper process on 127.0.0.1 with its own root dir: stands in for a host."""

    def __init__(self, tmp: Path, name: str, role: str, env: dict[str, str] | None = None) -> None:
        self.root = tmp / name / "rootfs"
        self.root.mkdir(parents=True)
        self.token = secrets.token_hex(32)
        self.stage = f".sealkit-staging.relay-{secrets.token_hex(4)}"
        self.proc = subprocess.Popen(
            [*HELPER, role, "127.0.0.1"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, **(env or {})},
        )
        self.lines: list[str] = []
        self.port: int | None = None
        self.accepted = threading.Event()
        self.ready = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.decode().rstrip("\n")
            self.lines.append(line)
            if line.startswith("PORT "):
                self.port = int(line.split()[1])
                self.ready.set()
            if line.startswith("ACCEPTED"):
                self.accepted.set()
        self.ready.set()
        self.accepted.set()

    def finish(self, timeout: float = 60) -> tuple[int, str]:
        rc = self.proc.wait(timeout)
        self._reader.join(5)
        assert self.proc.stderr is not None
        return rc, self.proc.stderr.read().decode()

    def line(self, word: str) -> str | None:
        return next((ln for ln in self.lines if ln.startswith(word + " ")), None)


def _relay_locally(
    tmp_path: Path,
    n: int,
    *,
    tamper=None,
    cut_after: int | None = None,
    env: dict[str, str] | None = None,
    fanout: int = 1,
    verify: str = d.RELAY_VERIFY,
) -> list[Local]:
    """A chain of ``n`` helpers: the test plays the controller (configs on stdin, tar to the head)."""
    root, local = _rootfs(tmp_path)
    files = sorted(local.values(), key=lambda e: e.path)
    manifest = {p: e.sha256 for p, e in local.items()}
    control = _control_files(files, manifest, [])
    stream = _TarStream(root, files)
    head = Local(tmp_path, "h0", "head", env)
    listeners = [Local(tmp_path, f"h{i}", "listen", env) for i in range(1, n)]
    members = [head, *listeners]
    for m in listeners:
        assert m.ready.wait(30) and m.port, m.lines
    ips = [str(i) for i in range(n)]
    links = relay_links(ips, fanout)
    configs = []
    for i, m in enumerate(members):
        slots = [
            [["127.0.0.1", members[int(j)].port, members[int(j)].token] for j in slot]
            for slot in links[str(i)]
        ]
        cfg = relay_config(str(m.root), m.stage, stream, slots, control, None if i == 0 else m.token, verify)
        configs.append(encode_config(tamper(i, cfg) if tamper is not None else cfg))
    for m, data in zip(listeners, configs[1:], strict=True):  # as the controller: listeners first
        m.proc.stdin.write(data)  # type: ignore[union-attr]
        m.proc.stdin.flush()  # type: ignore[union-attr]
    payload = configs[0] + _read_all(stream, 1 << 16)
    if cut_after is not None:
        payload = payload[: len(configs[0]) + cut_after]

    def feed_head() -> None:
        head.proc.stdin.write(payload)  # type: ignore[union-attr]
        head.proc.stdin.close()  # type: ignore[union-attr]

    threading.Thread(target=feed_head, daemon=True).start()
    for m in listeners:
        m.accepted.wait(30)
        m.proc.stdin.close()  # type: ignore[union-attr]
    return members


def _installed(m: Local, src: Path) -> None:
    for path in ("bin/tool", "etc/empty.conf", "lib/ünïcode.so"):
        assert (m.root / path).read_bytes() == (src / path).read_bytes()
    assert (m.root / "bin/tool").stat().st_mode & 0o777 == 0o755
    manifest = json.loads((m.root / d.MANIFEST_NAME).read_text())
    assert manifest["bin/tool"] == hashlib.sha256((src / "bin/tool").read_bytes()).hexdigest()
    assert not [p for p in m.root.iterdir() if p.name.startswith(".sealkit-staging")]


@pytest.mark.parametrize(
    ("engine", "verify"),
    [("splice", "stream"), ("copy", "stream"), ("splice", "hashlib"), ("splice", "sha256sum")],
)
def test_helper_chain_installs_every_host(tmp_path: Path, engine: str, verify: str) -> None:
    env = {"SEALKIT_RELAY_COPY": "1"} if engine == "copy" else None
    members = _relay_locally(tmp_path, 4, env=env, verify=verify)
    for m in members:
        rc, err = m.finish()
        assert rc == 0, (m.lines, err)
        stats = json.loads(m.line("DONE")[5:])  # type: ignore[index]
        assert stats["bytes"] > 70_000 and stats["engine"] == engine
        _installed(m, tmp_path / "rootfs")
    assert all(m.line("NEXT") for m in members[:-1])


def test_helper_tree_of_two_children_installs_every_host(tmp_path: Path) -> None:
    members = _relay_locally(tmp_path, 6, fanout=2)
    for m in members:
        rc, err = m.finish()
        assert rc == 0, (m.lines, err)
        _installed(m, tmp_path / "rootfs")
    forwarded = [json.loads(m.line("DONE")[5:])["forwarded_to"] for m in members]  # type: ignore[index]
    assert [len(f) for f in forwarded] == [2, 2, 1, 0, 0, 0]


def test_helper_rejects_a_wrong_token_and_upstream_skips_to_the_next_host(tmp_path: Path) -> None:
    def tamper(i: int, cfg: dict) -> dict:
        if i == 2:
            cfg["token"] = "0" * 64  # host 2 expects another token than host 1 was told
        return cfg

    members = _relay_locally(tmp_path, 4, tamper=tamper)
    results = [m.finish() for m in members]
    assert results[2][0] == 3 and "token mismatch" in results[2][1]
    assert not (members[2].root / "bin/tool").exists()
    assert members[1].line("NEXTFAIL") is not None and members[1].line("NEXTFAIL").split()[1] == "127.0.0.1"  # type: ignore[union-attr]
    for i in (0, 1, 3):
        assert results[i][0] == 0, (members[i].lines, results[i][1])
        _installed(members[i], tmp_path / "rootfs")


@pytest.mark.parametrize("verify", ["stream", "hashlib", "sha256sum"])
def test_helper_checksum_failure_leaves_nothing_in_place_and_still_forwards(
    tmp_path: Path, verify: str
) -> None:
    def tamper(i: int, cfg: dict) -> dict:
        if i == 1:
            sums = cfg["control"][".sealkit-sums"]
            cfg["control"] = {**cfg["control"], ".sealkit-sums": re.sub(r"^[0-9a-f]{64}", "f" * 64, sums)}
        return cfg

    members = _relay_locally(tmp_path, 3, tamper=tamper, verify=verify)
    results = [m.finish() for m in members]
    assert results[1][0] == 3 and (
        "sha256 mismatch" in results[1][1] or "sha256sum -c failed" in results[1][1]
    )
    assert list(members[1].root.iterdir()) == []  # no file in place, staging dir gone
    for i in (0, 2):
        assert results[i][0] == 0, (members[i].lines, results[i][1])
        _installed(members[i], tmp_path / "rootfs")


def test_helper_short_stream_fails_every_host_without_leftovers(tmp_path: Path) -> None:
    members = _relay_locally(tmp_path, 3, cut_after=40_000)
    for m in members:
        rc, err = m.finish()
        assert rc == 3 and "stream ended" in err, (m.lines, err)
        assert list(m.root.iterdir()) == []


def test_listener_gives_up_when_the_controller_closes_stdin(tmp_path: Path) -> None:
    m = Local(tmp_path, "h1", "listen")
    assert m.ready.wait(30) and m.port
    m.proc.stdin.close()  # type: ignore[union-attr]
    rc, err = m.finish(timeout=30)
    assert rc == 3 and "config" in err


def test_relay_command_line_carries_no_secret() -> None:
    class Host:
        ip = "10.0.0.2"

    m = d._Member(host=Host(), python=PY, head=False)  # type: ignore[arg-type]
    chain = object.__new__(d._Chain)
    cmd = d._Chain._command(chain, m)
    assert m.token not in cmd
    assert not re.search(r"\b[0-9a-f]{64}\b", cmd)
    assert cmd.startswith(PY + " -c ") and cmd.endswith(" listen 10.0.0.2")
