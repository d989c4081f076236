"""Relay distribution: grouping and planning (pure), the streamed tar, and the relay helper itself run
as local processes on the loopback interface (no lab, no SSH)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from sealkit.engine import distribute as d
from sealkit.engine import relay
from sealkit.engine.distribute import (
    Entry,
    HostState,
    _control_files,
    _state_from_probe,
    group_hosts,
    local_manifest,
    plan_distribution,
    relay_config,
)
from sealkit.engine.relay import TarStream, encode_config, relay_links, relay_waves, split_chain

PY = "/usr/bin/python3"
#: one key pair for every local chain of this module (making one costs ~1 ms)
KEYS = relay.RelayKeys.generate()
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
def _rootfs(tmp_path: Path, big: int = 0) -> tuple[Path, dict[str, Entry]]:
    """A small rootfs of awkward names and sizes; ``big`` adds a file of that many random bytes."""
    root = tmp_path / "rootfs"
    files = {
        "bin/tool": os.urandom(70_001),
        "etc/empty.conf": b"",
        "etc/exact.block": b"x" * 512,
        "share/" + "long-directory-name/" * 8 + "file with spaces.txt": b"long name\n",
        "lib/ünïcode.so": os.urandom(3000),
    }
    if big:
        files["lib/big.bin"] = os.urandom(big)
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    (root / "bin/tool").chmod(0o755)
    return root, local_manifest(root)


def _read_all(stream: TarStream, n: int = 4096) -> bytes:
    out = bytearray()
    while chunk := stream.read(n):
        out += chunk
    return bytes(out)


def test_tar_stream_is_a_valid_tar_of_exactly_its_size(tmp_path: Path) -> None:
    root, local = _rootfs(tmp_path)
    files = sorted(local.values(), key=lambda e: e.path)
    stream = TarStream(root, files)
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
    stream = TarStream(root, [local["bin/tool"]])
    (root / "bin/tool").write_bytes(b"short")
    data = _read_all(stream)
    assert len(data) < stream.size
    assert stream.error is not None and "shorter" in stream.error


# ---------------------------------------------------------------------------- the helper, locally
HELPER = [sys.executable, "-c", relay.RELAY_HELPER]


class Local:
    """One helper process on 127.0.0.1 with its own root dir: stands in for a host."""

    def __init__(
        self,
        tmp: Path,
        name: str,
        role: str,
        env: dict[str, str] | None = None,
        wrap: Sequence[str] = (),
    ) -> None:
        self.root = tmp / name / "rootfs"
        self.root.mkdir(parents=True)
        self.token = secrets.token_hex(32)
        self.stage = f".sealkit-staging.relay-{secrets.token_hex(4)}"
        self.proc = subprocess.Popen(
            [*wrap, *HELPER, role, "127.0.0.1"],
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
        self.close_stdin()
        assert self.proc.stderr is not None
        return rc, self.proc.stderr.read().decode()

    def line(self, word: str) -> str | None:
        return next((ln for ln in self.lines if ln.startswith(word + " ")), None)

    def close_stdin(self) -> None:
        """EOF on the helper's stdin: what the controller does to abort it (or its session ending)."""
        assert self.proc.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            self.proc.stdin.close()

    def wait_line(self, word: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.line(word)
            if found is not None:
                return found
            time.sleep(0.02)
        raise AssertionError(f"no {word} line within {timeout}s: {self.lines}")


def _relay_locally(
    tmp_path: Path,
    n: int,
    *,
    tamper=None,
    cut_after: int | None = None,
    env: dict[str, str] | None = None,
    fanout: int = 1,
    verify: str = d.RELAY_VERIFY,
    ports: Callable[[list[Local]], list[int]] | None = None,
    hold_head: bool = False,
    big: int = 0,
    wrap: dict[int, list[str]] | None = None,
) -> list[Local]:
    """A chain of ``n`` helpers: the test plays the controller (configs on stdin, tar to the head).

    ``ports`` may give the port each host is told for every member (a proxy in between); with
    ``hold_head`` the head gets its config and the first 40 kB only, and its stdin stays open.
    Listeners' stdin stays open (closing it aborts them), as the controller's gate does.
    """
    root, local = _rootfs(tmp_path, big)
    files = sorted(d._files(local.values()), key=lambda e: e.path)
    manifest = {p: e.sha256 for p, e in local.items()}
    control = _control_files(files, manifest, [])
    stream = TarStream(root, files)
    head = Local(tmp_path, "h0", "head", env)
    listeners = [Local(tmp_path, f"h{i}", "listen", env, (wrap or {}).get(i, ())) for i in range(1, n)]
    members = [head, *listeners]
    for m in listeners:
        assert m.ready.wait(30) and m.port, m.lines
    told = ports(members) if ports is not None else [m.port for m in members]
    ips = [str(i) for i in range(n)]
    links = relay_links(ips, fanout)
    configs = []
    for i, m in enumerate(members):
        slots = [[["127.0.0.1", told[int(j)], members[int(j)].token] for j in slot] for slot in links[str(i)]]
        cfg = relay_config(
            str(m.root), m.stage, stream, slots, control, None if i == 0 else m.token, verify, tls=KEYS
        )
        configs.append(encode_config(tamper(i, cfg) if tamper is not None else cfg))
    for m, data in zip(listeners, configs[1:], strict=True):  # as the controller: listeners first
        m.proc.stdin.write(data)  # type: ignore[union-attr]
        m.proc.stdin.flush()  # type: ignore[union-attr]
    payload = configs[0] + _read_all(stream, 1 << 16)
    if cut_after is not None:
        payload = payload[: len(configs[0]) + cut_after]
    if hold_head:
        payload = payload[: len(configs[0]) + 40_000]

    def feed_head() -> None:
        head.proc.stdin.write(payload)  # type: ignore[union-attr]
        head.proc.stdin.flush()  # type: ignore[union-attr]
        if not hold_head:
            head.close_stdin()

    threading.Thread(target=feed_head, daemon=True).start()
    return members


def _installed(m: Local, src: Path) -> None:
    for path in ("bin/tool", "etc/empty.conf", "lib/ünïcode.so"):
        assert (m.root / path).read_bytes() == (src / path).read_bytes()
    assert (m.root / "bin/tool").stat().st_mode & 0o777 == 0o755
    manifest = json.loads((m.root / d.MANIFEST_NAME).read_text())
    assert manifest["bin/tool"] == hashlib.sha256((src / "bin/tool").read_bytes()).hexdigest()
    assert not [p for p in m.root.iterdir() if p.name.startswith(".sealkit-staging")]


@pytest.mark.parametrize("verify", ["stream", "hashlib", "sha256sum"])
def test_helper_chain_installs_every_host(tmp_path: Path, verify: str) -> None:
    members = _relay_locally(tmp_path, 4, verify=verify)
    for m in members:
        rc, err = m.finish()
        assert rc == 0, (m.lines, err)
        stats = json.loads(m.line("DONE")[5:])  # type: ignore[index]
        assert stats["bytes"] > 70_000 and stats["engine"] == "tls"
        assert stats["cipher"] in ("TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256"), stats  # AES-NI
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
    members[1].wait_line("NEXTFAIL")
    members[2].close_stdin()  # the controller gives up on a host its upstream could not hand on to
    results = [m.finish() for m in members]
    assert results[2][0] == 3 and "token mismatch" in results[2][1]
    assert results[2][1].startswith("relay step auth:"), results[2][1]
    assert members[2].line("REFUSED") is not None
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


# ------------------------------------------------------------------ hop security (issue 14 item 8)
def test_a_stranger_connecting_first_does_not_kill_the_hop(tmp_path: Path) -> None:
    """Knowing the token is not enough without the run's key; a TLS peer with another key is refused
    too; either way the listener keeps waiting and its genuine upstream still gets through."""
    import socket
    import ssl

    strangers: list[socket.socket] = []
    tls_results: list[bytes] = []

    def strangers_first(members: list[Local]) -> list[int]:
        target = members[1]
        plain = socket.create_connection(("127.0.0.1", target.port))
        plain.sendall(target.token.encode())  # a leaked token, over plain TCP
        strangers.append(plain)
        other = relay.RelayKeys.generate()
        pair = tmp_path / "other.pem"
        pair.write_text(other.key_pem + other.cert_pem)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.load_cert_chain(str(pair))
        raw = socket.create_connection(("127.0.0.1", target.port), timeout=20)

        def handshake() -> None:  # completes only once the listener accepts, after its config
            with contextlib.suppress(OSError):
                tls = ctx.wrap_socket(raw)
                tls.sendall(target.token.encode())
                tls_results.append(tls.recv(16))

        threading.Thread(target=handshake, daemon=True).start()
        return [m.port for m in members]  # type: ignore[misc]

    members = _relay_locally(tmp_path, 3, ports=strangers_first)
    for m in members:
        rc, err = m.finish()
        assert rc == 0, (m.lines, err)
        _installed(m, tmp_path / "rootfs")
    refused = [ln for ln in members[1].lines if ln.startswith("REFUSED ")]
    assert len(refused) == 2, members[1].lines  # both strangers, then the genuine upstream
    assert b"OK" not in b"".join(tls_results)
    for sock in strangers:
        sock.settimeout(5)
        with contextlib.suppress(OSError):
            assert b"OK" not in sock.recv(16)  # never told OK
        sock.close()


class Tap:
    """A TCP proxy that records what one hop carries."""

    def __init__(self, port: int) -> None:
        import socket

        self.port_to = port
        self.seen = bytearray()
        self.ls = socket.create_server(("127.0.0.1", 0))
        self.port = self.ls.getsockname()[1]
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        import socket

        conn, _ = self.ls.accept()
        out = socket.create_connection(("127.0.0.1", self.port_to))

        def back() -> None:
            while data := out.recv(65536):
                conn.sendall(data)

        threading.Thread(target=back, daemon=True).start()
        while data := conn.recv(65536):
            self.seen += data
            out.sendall(data)
        out.shutdown(socket.SHUT_WR)


def test_hop_bytes_on_the_wire_are_encrypted(tmp_path: Path) -> None:
    taps: list[Tap] = []

    def via_tap(members: list[Local]) -> list[int]:
        taps.append(Tap(members[1].port))  # type: ignore[arg-type]
        return [members[0].port, taps[0].port, members[2].port]  # type: ignore[list-item]

    members = _relay_locally(tmp_path, 3, ports=via_tap)
    for m in members:
        rc, err = m.finish()
        assert rc == 0, (m.lines, err)
        _installed(m, tmp_path / "rootfs")
    wire = bytes(taps[0].seen)
    content = (tmp_path / "rootfs" / "bin/tool").read_bytes()
    assert len(wire) > len(content)
    assert wire[0] == 0x16  # a TLS handshake record comes first
    for off in range(0, len(content) - 32, 4096):
        assert content[off : off + 32] not in wire
    assert members[1].token.encode() not in wire
    assert b"bin/tool" not in wire  # not even the tar headers


def _syscalls(report: Path) -> dict[str, int]:
    """``strace -c`` summary: calls per system call name."""
    calls: dict[str, int] = {}
    for line in report.read_text().splitlines():
        fields = line.split()
        if len(fields) >= 5 and fields[0][0].isdigit() and fields[-1] != "total":
            calls[fields[-1]] = int(fields[3])
    return calls


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace")
def test_a_middle_hop_moves_ciphertext_in_large_pieces(tmp_path: Path) -> None:
    """A hop's CPU decides a chain's speed where hosts share CPUs. TLS on the socket itself costs two
    reads per 16 KiB record (header, body), a send per record and a poll before each: ~250 system calls
    per MiB on a middle hop. Through memory BIOs it is a few recv/send per MiB plus the file writes."""
    mib = 32  # python's own start-up (~600 calls) stays well below the margin
    report = tmp_path / "strace.txt"
    strace = ["strace", "-c", "-o", str(report)]  # the main thread: no beats, no commit script
    members = _relay_locally(tmp_path, 3, big=mib << 20, wrap={1: strace})
    for m in members:
        rc, err = m.finish(timeout=120)
        assert rc == 0, (m.lines, err)
        _installed(m, tmp_path / "rootfs")
    assert (members[2].root / "lib/big.bin").read_bytes() == (tmp_path / "rootfs/lib/big.bin").read_bytes()
    calls = _syscalls(report)
    io_calls = ("read", "write", "recvfrom", "sendto", "recvmsg", "sendmsg", "select", "pselect6", "poll")
    moved = sum(calls.get(name, 0) for name in io_calls)
    assert moved < 64 * mib, calls


def test_listener_dies_with_its_session_and_removes_its_staging(tmp_path: Path) -> None:
    import signal

    members = _relay_locally(tmp_path, 3, hold_head=True)
    for m in members[1:]:
        m.wait_line("ACCEPTED")
    for m in members:
        deadline = time.monotonic() + 30
        while not list(m.root.glob(".sealkit-staging.*")) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert list(m.root.glob(".sealkit-staging.*")), m.lines
    started = time.monotonic()
    members[1].close_stdin()  # its SSH session ended
    members[2].proc.send_signal(signal.SIGHUP)  # sshd hangs up on it
    for m in members[1:]:
        rc, err = m.finish(timeout=15)
        assert rc == 3 and "relay step session:" in err, (m.lines, err)
        assert list(m.root.iterdir()) == [], "staging left behind"
    assert time.monotonic() - started < 5  # at once, not after the idle timeout
    members[0].close_stdin()
    rc, _ = members[0].finish()
    assert rc == 3 and list(members[0].root.iterdir()) == []


# ------------------------------------------------------------------ commit and install scripts
def _stage(root: Path, stage: str, entries: list[Entry], manifest: dict[str, str]) -> Path:
    dirpath = root / stage
    dirpath.mkdir(parents=True)
    for name, text in _control_files(entries, manifest, []).items():
        (dirpath / name).write_text(text)
    return dirpath


def test_commit_stops_at_the_first_error_and_writes_no_manifest(tmp_path: Path) -> None:
    root = tmp_path / "host"
    stage = ".sealkit-staging.t"
    entries = [entry("a"), entry("gone"), entry("z")]
    staged = _stage(root, stage, entries, {e.path: e.sha256 for e in entries})
    (staged / "a").write_text("a")
    (staged / "z").write_text("z")  # "gone" was never staged (its writer died)
    res = subprocess.run(["sh", "-c", d._commit_script(stage)], cwd=root, capture_output=True, text=True)
    assert res.returncode != 0
    assert not (root / d.MANIFEST_NAME).exists()
    assert not (root / "z").exists()  # nothing after the failure ran


def test_a_failed_install_removes_its_staging_dir(tmp_path: Path) -> None:
    root = tmp_path / "host"
    root.mkdir()
    stage = ".sealkit-staging.t"
    res = subprocess.run(
        ["sh", "-c", d._install_script(str(root), stage)],
        input=b"not a tar at all" * 100,
        capture_output=True,
    )
    assert res.returncode != 0
    assert list(root.iterdir()) == []


def test_failure_messages_carry_no_script_and_hint_at_the_cause() -> None:
    from sealkit.ssh.connection import CommandFailed, Result

    script = "python3 -c 'import ctypes ... 370 lines of helper'"
    full = CommandFailed(
        f"command exited with rc=2: {script}",
        result=Result("10.0.0.5", script, 2, "", "tar: bin/k3s: Cannot write: No space left on device\n"),
    )
    why, hint = d.describe_failure(full)
    assert "import ctypes" not in why and "No space left" in why and "exit status 2" in why
    assert "free space" in hint
    lost = CommandFailed(
        f"connection lost while running: {script}", result=Result("h", script, -1, "", ""), link_lost=True
    )
    why, hint = d.describe_failure(lost)
    assert why == "the SSH session was lost" and "network" in hint and "free space" not in hint


# ------------------------------------------------------------ symlinks and empty dirs (item 12)
def _tree(root: Path) -> dict[str, str]:
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if rel.startswith(".sealkit"):
            continue
        if p.is_symlink():
            out[rel] = "-> " + os.readlink(p)
        elif p.is_dir():
            out[rel] = "dir"
        else:
            out[rel] = p.read_bytes().decode(errors="replace")
    return out


def _sync_locally(rootfs: Path, host: Path) -> HostState:
    """One probe + install against a local dir, as push_rootfs does over SSH; returns the probe's state."""
    local = local_manifest(rootfs)
    listing = subprocess.run(
        ["sh", "-c", d._listing_script()], cwd=host, capture_output=True, text=True, check=True
    ).stdout
    st = _state_from_probe("h", rootfs, local, listing)
    if not st.in_sync:
        buf = io.BytesIO()
        d._write_tar(buf, rootfs, list(st.missing), {p: e.sha256 for p, e in local.items()}, list(st.prune))
        subprocess.run(
            ["sh", "-c", d._install_script(str(host), ".sealkit-staging.t")],
            input=buf.getvalue(),
            check=True,
            capture_output=True,
        )
    return st


def test_symlinks_inside_and_empty_dirs_reach_the_host_and_a_rerun_sends_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rootfs = tmp_path / "img" / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    (rootfs / "bin/k3s").write_bytes(b"K3S")
    (rootfs / "bin/kubectl").symlink_to("k3s")
    (rootfs / "usr/lib").mkdir(parents=True)
    (rootfs / "usr/lib/libx.so").write_bytes(b"lib")
    (rootfs / "lib").symlink_to("usr/lib")
    (rootfs / "etc").mkdir()
    (rootfs / "etc/conf").write_bytes(b"conf")
    (rootfs / "bin/conf").symlink_to("../etc/conf")
    (rootfs / "var/empty").mkdir(parents=True)
    (rootfs / "data/a/b").mkdir(parents=True)
    # links that reach outside: absolute, up and out, through another link, dangling-but-outside
    (rootfs / "bin/passwd").symlink_to("/etc/passwd")
    (rootfs / "up").symlink_to("../../outside")
    (rootfs / "self").symlink_to(".")
    (rootfs / "bin/sneaky").symlink_to("../self/../../x")
    (rootfs / "etc/dangling").symlink_to("../../nowhere/x")
    caplog.set_level("WARNING", logger="sealkit.engine")
    local = local_manifest(rootfs)
    kinds = {p: e.kind for p, e in local.items()}
    assert kinds == {
        "bin/conf": "l",
        "bin/k3s": "f",
        "bin/kubectl": "l",
        "data/a/b": "d",
        "etc/conf": "f",
        "lib": "l",
        "self": "l",
        "usr/lib/libx.so": "f",
        "var/empty": "d",
    }
    for name in ("bin/passwd -> /etc/passwd", "up -> ../../outside", "bin/sneaky", "etc/dangling"):
        assert any(name in r.getMessage() and "outside" in r.getMessage() for r in caplog.records), name

    host = tmp_path / "host" / "rootfs"
    host.mkdir(parents=True)
    (host / "stale-link").symlink_to("bin/k3s")  # a link the image no longer has: pruned
    first = _sync_locally(rootfs, host)
    assert not first.in_sync
    want = {k: v for k, v in _tree(rootfs).items() if k in local or any(p.startswith(k + "/") for p in local)}
    assert _tree(host) == want
    assert _sync_locally(rootfs, host).in_sync  # the re-run has nothing to send

    # the image changes: a link retargeted, a file becomes a link, a link becomes a dir, a dir fills up
    v2 = tmp_path / "img2" / "rootfs"

    shutil.copytree(rootfs, v2, symlinks=True)
    for rel in ("bin/passwd", "up", "bin/sneaky", "etc/dangling"):
        (v2 / rel).unlink()
    (v2 / "bin/kubectl").unlink()
    (v2 / "bin/kubectl").symlink_to("../usr/lib/libx.so")
    (v2 / "etc/conf").unlink()
    (v2 / "etc/conf").symlink_to("../bin/k3s")
    (v2 / "bin/conf").unlink()
    (v2 / "lib").unlink()
    (v2 / "lib").mkdir()
    (v2 / "var/empty/now").write_bytes(b"full")
    assert not _sync_locally(v2, host).in_sync
    assert _tree(host) == _tree(v2)
    assert _sync_locally(v2, host).in_sync


class _FlakyLink:
    """A host connection that runs commands locally and drops the link under the first ``drops`` sends
    after reading half their stdin (as a killed sshd session does)."""

    def __init__(self, drops: int, *, timeout: bool = False) -> None:
        self.drops, self.timeout, self.sends = drops, timeout, []

    def run(self, cmd: str, *, stdin=None, timeout=None, **_: object):
        from sealkit.ssh.connection import CommandFailed, Result

        data = stdin.read()
        self.sends.append(len(data))
        if len(self.sends) <= self.drops:
            what = "command timed out after 5s" if self.timeout else "connection lost while running"
            raise CommandFailed(
                f"{what}: {cmd[:20]}", result=Result("h", cmd, -1, "", ""), link_lost=not self.timeout
            )
        subprocess.run(["sh", "-c", cmd], input=data, check=True, capture_output=True)
        return Result("h", cmd, 0, "", "")


def _direct(tmp_path: Path, link: _FlakyLink) -> tuple[Path, int]:
    from types import SimpleNamespace

    rootfs = tmp_path / "img"
    (rootfs / "bin").mkdir(parents=True)
    (rootfs / "bin/k3s").write_bytes(os.urandom(4096))
    host_dir = tmp_path / "host"
    host_dir.mkdir()
    local = local_manifest(rootfs)
    st = _state_from_probe("h", rootfs, local, "{}---sizes---\n")
    host = SimpleNamespace(ip="h", conn=link, facts={})
    ctx = SimpleNamespace(remote_rootfs=str(host_dir))
    return host_dir, d._send_direct(ctx, host, st, local)


def test_a_direct_copy_whose_link_dropped_is_sent_once_more_and_lands_whole(tmp_path: Path) -> None:
    link = _FlakyLink(drops=1)
    host_dir, sent = _direct(tmp_path, link)
    assert len(link.sends) == 2 and link.sends[0] == link.sends[1] == sent // 2  # the whole tar, twice
    assert (host_dir / "bin/k3s").read_bytes() == (tmp_path / "img/bin/k3s").read_bytes()
    assert json.loads((host_dir / d.MANIFEST_NAME).read_text()).keys() == {"bin/k3s"}
    assert not [p for p in host_dir.iterdir() if p.name.startswith(".sealkit-staging")]


@pytest.mark.parametrize("timeout", [False, True])
def test_a_direct_copy_gives_up_after_a_second_drop_and_never_retries_a_timeout(
    tmp_path: Path, timeout: bool
) -> None:
    link = _FlakyLink(drops=2, timeout=timeout)
    with pytest.raises(d.StepFailed) as failed:
        _direct(tmp_path, link)
    assert len(link.sends) == (1 if timeout else 2)
    assert ("timed out" if timeout else "the SSH session was lost") in failed.value.message
    assert failed.value.host == "h" and failed.value.step == "distribute"
