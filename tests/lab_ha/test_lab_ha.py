"""The node-local apiserver LB for real: haproxy under systemd on lab hosts, fronting TLS servers.

Three "masters" run a stdlib HTTPS server on :6443 (a stand-in for kube-apiserver: ``/healthz`` ->
ok, cert from a test CA with the master IP and the VIP in the SANs); workers get the LB through the
built-in HA plugin over sealkit's own SSH connections; a client on a worker sends HTTPS requests
through the VIP, verifying TLS end to end. Needs root and the lab: ``pytest -m lab tests/lab_ha``.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sealkit.cluster import HA, Cluster, Host
from sealkit.context import ClusterContext, Endpoint, HostRef, RuntimeInfo
from sealkit.errors import SealkitError, StepFailed
from sealkit.ha import apply, haproxy
from sealkit.ha.plugin import HAPlugin
from sealkit.ssh import Connection, HostKeyPolicy, Target
from tests.lab_ha import tls

pytestmark = pytest.mark.lab

VIP = "10.103.97.2"
PORT = 6443
HERE = Path(__file__).parent
STUB = "/opt/sealkit-test/apiserver_stub.py"
CLIENT = "/opt/sealkit-test/lb_client.py"
CERTS = "/opt/sealkit-test"
#: the 3 s detection target: requests are counted from this long after the kill
DETECTION_BUDGET = 3.0
WAIT = 60.0  # guard against hangs only; never asserted on
log = logging.getLogger("test-lab-ha")


# ------------------------------------------------------------------------------------- helpers
def _connect(h: Any, pins: Path) -> Connection:
    policy = HostKeyPolicy(pins, user_known_hosts=h.lab_dir / "known_hosts")
    target = Target(h.ip, port=h.port, key_path=str(h.root_key), label=h.name)
    return Connection(target, hostkeys=policy, ssh_config=h.ssh_config)


def _ctx(masters: list[Any], nodes: list[Any]) -> ClusterContext:
    """A minimal context: what the HA plugin reads (cluster.ha, runtime, dry_run, rootfs, log)."""
    hosts = [Host(ip=m.ip, roles=["master"]) for m in masters]
    hosts += [Host(ip=n.ip, roles=["node"]) for n in nodes]
    cluster = Cluster(name="lab-ha", hosts=hosts, ha=HA(strategy="auto", vip=VIP, port=PORT))
    return ClusterContext(
        cluster=cluster,
        state=None,  # type: ignore[arg-type]
        fleet=None,  # type: ignore[arg-type]
        pm=None,  # type: ignore[arg-type]
        runtime=RuntimeInfo(name="lab", default_ha="haproxy"),
        pki=None,  # type: ignore[arg-type]
        log=log,
    )


def _ref(h: Any, conn: Connection, role: str) -> HostRef:
    return HostRef(spec=Host(ip=h.ip, roles=[role]), conn=conn, hostname=h.hostname)


def _wait(what: str, cond: Callable[[], bool], timeout: float = WAIT, every: float = 0.1) -> float:
    """Poll until ``cond()``; return how long it took (reported, never asserted)."""
    start = time.monotonic()
    while not cond():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(every)
    return time.monotonic() - start


class Masters:
    """The fake apiservers: one transient systemd unit per master, killed and restarted at will."""

    def __init__(self, hosts: list[Any], conns: dict[str, Connection]) -> None:
        self.hosts = hosts
        self.conns = conns
        ca, ca_key = tls.make_ca()
        self.ca_pem = ca.cert_pem
        for h in hosts:
            pair = tls.server_cert(ca, ca_key, f"apiserver-{h.name}", [h.ip, VIP])
            c = conns[h.ip]
            c.put((HERE / "apiserver_stub.py").read_bytes(), STUB, mode=0o644)
            c.put(pair.cert_pem, f"{CERTS}/tls.crt", mode=0o644)
            c.put(pair.key_pem, f"{CERTS}/tls.key", mode=0o600)
            self.start(h)

    def start(self, h: Any) -> None:
        c = self.conns[h.ip]
        c.run("systemctl reset-failed fake-apiserver.service 2>/dev/null || true")
        c.run(
            "systemd-run --unit=fake-apiserver --collect --property=Restart=no "
            f"python3 {STUB} {h.name} {h.ip} {PORT} {CERTS}/tls.crt {CERTS}/tls.key"
        )
        _wait(f"{h.name}:6443 listening", lambda: self._listening(c), every=0.1)

    def kill(self, h: Any) -> None:
        self.conns[h.ip].run("systemctl kill --signal=KILL fake-apiserver.service")
        _wait(f"{h.name}:6443 closed", lambda: not self._listening(self.conns[h.ip]))

    @staticmethod
    def _listening(c: Connection) -> bool:
        return bool(c.run(f"ss -Hltn 'sport = :{PORT}'", check=False).stdout.strip())


class Client:
    """A continuous HTTPS client on a worker, run as a transient unit, its log read back at the end."""

    LOG = "/var/tmp/lb-client.jsonl"
    STOP = "/var/tmp/lb-client.stop"

    def __init__(self, conn: Connection, ca_pem: bytes) -> None:
        self.conn = conn
        conn.put((HERE / "lb_client.py").read_bytes(), CLIENT, mode=0o644)
        conn.put(ca_pem, f"{CERTS}/ca.crt", mode=0o644)
        conn.run(f"rm -f {self.LOG} {self.STOP}")
        conn.run(
            f"systemd-run --unit=lb-client --collect python3 {CLIENT} {VIP} {PORT} "
            f"{CERTS}/ca.crt {self.LOG} {self.STOP}"
        )

    def stop(self) -> list[dict[str, Any]]:
        self.conn.run(f"touch {self.STOP}")
        _wait(
            "client exit",
            lambda: self.conn.run("systemctl is-active --quiet lb-client", check=False).rc != 0,
        )
        text = self.conn.get(self.LOG).decode()
        return [json.loads(line) for line in text.splitlines() if line.strip()]


def _main_pid(c: Connection) -> int:
    return int(c.run("systemctl show -p MainPID --value sealkit-lb.service").stdout.strip())


def _worker_pids(c: Connection, main: int) -> set[int]:
    out = c.run(f"pgrep -P {main} || true").stdout.split()
    return {int(p) for p in out}


def _status(c: Connection) -> dict[str, str]:
    return apply.haproxy_status(c)


def _summary(recs: list[dict[str, Any]], start: float, end: float) -> tuple[int, int, Counter[str]]:
    window = [r for r in recs if start <= r["t"] < end]
    return len(window), sum(not r["ok"] for r in window), Counter(r.get("who", "") for r in window)


@pytest.fixture
def pins(tmp_path: Path) -> Path:
    return tmp_path / "pinned_known_hosts"


@pytest.fixture
def conns() -> Iterator[dict[str, Connection]]:
    opened: dict[str, Connection] = {}
    yield opened
    for c in opened.values():
        c.close()


# --------------------------------------------------------------------------------------- tests
def test_failover_resync_without_restart(
    fresh_hosts: Callable[..., list[Any]], pins: Path, conns: dict[str, Connection]
) -> None:
    hosts = fresh_hosts(5, systemd=True)
    masters, workers = hosts[:3], hosts[3:]
    for h in hosts:
        conns[h.ip] = _connect(h, pins)
    fake = Masters(masters, conns)
    ctx = _ctx(masters, workers)
    plugin = HAPlugin()
    backends = [Endpoint(m.ip, PORT) for m in masters]
    refs = [_ref(w, conns[w.ip], "node") for w in workers]

    # --- install through the plugin, as the engine would before workers join
    assert plugin.sealkit_apiserver_endpoint(ctx=ctx) == Endpoint(VIP, PORT)
    for ref in refs:
        assert plugin.sealkit_configure_lb(ctx=ctx, host=ref, backends=backends) is True
    for w in workers:
        c = conns[w.ip]
        assert c.run("systemctl is-active sealkit-lb.service").stdout.strip() == "active"
        assert c.run("systemctl is-enabled sealkit-lb.service").stdout.strip() == "enabled"
        assert f"inet {VIP}/32" in c.run("ip -o addr show dev lo").stdout
        _wait("all backends UP", lambda c=c: _try(lambda: set(_status(c).values()) == {"UP"}))
    for ref in refs:
        want = {f"{m.ip}:{PORT}": "UP" for m in masters}
        assert plugin.sealkit_lb_status(ctx=ctx, host=ref) == want

    # --- a master dies: after detection no request fails; it comes back and serves again
    w1 = conns[workers[0].ip]
    client = Client(w1, fake.ca_pem)
    victim = masters[1]
    victim_key = f"{victim.ip}:{PORT}"
    time.sleep(2)  # baseline traffic on all three masters
    t_kill = time.time()
    fake.kill(victim)
    detected = _wait("victim DOWN", lambda: _status(w1).get(victim_key) == "DOWN")
    log.warning("haproxy marked %s DOWN %.2f s after the kill", victim_key, detected)
    t_counted = t_kill + DETECTION_BUDGET
    time.sleep(max(0.0, t_counted - time.time()) + 3)  # 3 s of traffic without the victim
    t_back = time.time()
    fake.start(victim)
    returned = _wait("victim UP again", lambda: _status(w1).get(victim_key) == "UP")
    log.warning("haproxy marked %s UP %.2f s after restart", victim_key, returned)
    t_up = time.time()
    time.sleep(2)
    records = client.stop()
    t_end = time.time()

    before = _summary(records, 0, t_kill)
    window = _summary(records, t_kill, t_counted)
    without = _summary(records, t_counted, t_back)
    after = _summary(records, t_up, t_end)
    log.warning(
        "requests/failures: before kill %s/%s, detection window %s/%s, victim down %s/%s, "
        "after return %s/%s; who after return: %s",
        before[0],
        before[1],
        window[0],
        window[1],
        without[0],
        without[1],
        after[0],
        after[1],
        dict(after[2]),
    )
    assert before[0] > 10 and before[1] == 0
    assert set(before[2]) == {m.name for m in masters}
    assert without[0] > 10 and without[1] == 0, [r for r in records if not r["ok"]][:5]
    assert victim.name not in without[2]
    assert after[0] > 10 and after[1] == 0
    assert after[2][victim.name] > 0  # the master that came back receives requests again
    failures = [r for r in records if not r["ok"]]
    assert len(failures) == window[1]  # any failure at all happened inside the detection window

    # --- re-sync with the same masters: nothing written, nothing run
    for ref in refs:
        res = apply.configure_haproxy(
            ref.conn, vip=VIP, port=PORT, backends=backends, image_binary="/nonexistent/haproxy"
        )
        assert not res.changed and res.commands == []

    # --- a master is deleted, then added back: every worker's config follows, haproxy reloads
    # (same main PID, new worker process), nothing else restarts, traffic keeps flowing
    pids = {w.ip: _main_pid(conns[w.ip]) for w in workers}
    old_workers = {w.ip: _worker_pids(conns[w.ip], pids[w.ip]) for w in workers}
    services_before = {w.ip: _services(conns[w.ip]) for w in workers}
    client = Client(w1, fake.ca_pem)
    time.sleep(1)
    gone = masters[2]
    remaining = [b for b in backends if b.host != gone.ip]
    t_del = time.time()
    for ref in refs:
        res = apply.configure_haproxy(
            ref.conn, vip=VIP, port=PORT, backends=remaining, image_binary="/nonexistent/haproxy"
        )
        assert res.config_changed and not res.unit_changed
        assert res.commands == ["systemctl reload sealkit-lb.service"]
    for w in workers:
        c = conns[w.ip]
        cfg = c.get(haproxy.CONFIG_PATH).decode()
        assert cfg == haproxy.render_config(VIP, PORT, remaining)
        assert f"server {gone.ip}:{PORT}" not in cfg
        assert _main_pid(c) == pids[w.ip]
        _wait("new haproxy worker", lambda c=c, w=w: bool(_worker_pids(c, pids[w.ip]) - old_workers[w.ip]))
        assert set(_status(c)) == {str(b) for b in remaining}
    time.sleep(2)
    t_readd = time.time()
    for ref in refs:
        res = apply.configure_haproxy(
            ref.conn, vip=VIP, port=PORT, backends=backends, image_binary="/nonexistent/haproxy"
        )
        assert res.commands == ["systemctl reload sealkit-lb.service"]
    for w in workers:
        c = conns[w.ip]
        assert c.get(haproxy.CONFIG_PATH).decode() == haproxy.render_config(VIP, PORT, backends)
        assert _main_pid(c) == pids[w.ip]
        _wait("re-added master UP", lambda c=c: _status(c).get(f"{gone.ip}:{PORT}") == "UP")
        # every running service (sealkit-lb included) kept its PID and its start time
        assert _services(c) == services_before[w.ip]
    # the "after re-add" window below starts 3 s after the re-add: leave it at least 3 s of traffic
    # however fast the reload went
    time.sleep(max(2.0, t_readd + 6 - time.time()))
    records = client.stop()
    deleted = _summary(records, t_del, t_readd)
    readded = _summary(records, t_readd + 3, time.time())
    log.warning("during delete: %s/%s %s; after re-add: %s/%s %s", *deleted, *readded)
    assert all(r["ok"] for r in records), [r for r in records if not r["ok"]][:5]
    # connections opened before the reload may still reach the deleted master for a moment
    late = [r for r in records if r["t"] > t_del + 1 and r["t"] < t_readd and r.get("who") == gone.name]
    assert late == []
    assert readded[2][gone.name] > 0


def _services(c: Connection) -> dict[str, tuple[str, str]]:
    """Running services -> (main PID, start time): a restart changes both, a reload neither."""
    out = c.run(
        "systemctl list-units --type=service --state=running --no-legend --plain "
        "| awk '{print $1}' | grep -v '^lb-client' "
        "| xargs systemctl show -p Id -p MainPID -p ActiveEnterTimestampMonotonic"
    ).stdout
    services: dict[str, tuple[str, str]] = {}
    for block in out.strip().split("\n\n"):
        props = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        services[props["Id"]] = (props["MainPID"], props["ActiveEnterTimestampMonotonic"])
    return services


def test_worker_reboot_brings_lb_back_without_sealkit(
    fresh_hosts: Callable[..., Any], pins: Path, conns: dict[str, Connection]
) -> None:
    hosts = fresh_hosts(2, systemd=True)
    master, worker = hosts
    lab = hosts.lab
    for h in (master, worker):
        conns[h.ip] = _connect(h, pins)
    fake = Masters([master], conns)
    ctx = _ctx([master], [worker])
    ref = _ref(worker, conns[worker.ip], "node")
    assert HAPlugin().sealkit_configure_lb(ctx=ctx, host=ref, backends=[Endpoint(master.ip, PORT)])

    conns.pop(worker.ip).close()
    lab.stop_host(worker)
    lab.start_host(worker)
    c = conns[worker.ip] = _connect(worker, pins)
    _wait("ssh after reboot", lambda: _try(lambda: c.run("true").rc == 0), every=0.5)
    _wait(
        "sealkit-lb active after boot",
        lambda: c.run("systemctl is-active sealkit-lb.service", check=False).stdout.strip() == "active",
    )
    assert f"inet {VIP}/32" in c.run("ip -o addr show dev lo").stdout
    _wait("backend UP", lambda: _try(lambda: _status(c) == {f"{master.ip}:{PORT}": "UP"}))
    client = Client(c, fake.ca_pem)
    _wait("some requests", lambda: _try(lambda: len(c.get(Client.LOG).splitlines()) >= 5))
    records = client.stop()
    assert records and all(r["ok"] and r["who"] == master.name for r in records)


def _try(fn: Callable[[], bool]) -> bool:
    """For polling only: a host still booting (or an LB still starting) is "not yet"."""
    try:
        return fn()
    except (SealkitError, OSError) as err:
        log.debug("not yet: %s", err)
        return False


def test_reset_leaves_nothing_and_is_idempotent(
    fresh_hosts: Callable[..., list[Any]], pins: Path, conns: dict[str, Connection]
) -> None:
    master, worker = fresh_hosts(2, systemd=True)
    c = conns[worker.ip] = _connect(worker, pins)
    ctx = _ctx([master], [worker])
    ref = _ref(worker, c, "node")
    plugin = HAPlugin()
    # no ip_vs in the lab kernel: the ipvs strategy refuses before writing anything
    ipvs_ctx = _ctx([master], [worker])
    ipvs_ctx.cluster.ha.strategy = "ipvs"
    with pytest.raises(StepFailed, match="ip_vs"):
        plugin.sealkit_configure_lb(ctx=ipvs_ctx, host=ref, backends=[Endpoint(master.ip, PORT)])
    assert c.run("test -e /etc/sealkit", check=False).rc != 0
    assert plugin.sealkit_configure_lb(ctx=ctx, host=ref, backends=[Endpoint(master.ip, PORT)])
    assert c.run("systemctl is-active sealkit-lb.service").stdout.strip() == "active"
    for _ in range(2):
        plugin.sealkit_reset_host(ctx=ctx, host=ref)
        assert c.run(f"test -e {haproxy.UNIT_PATH}", check=False).rc != 0
        assert c.run("test -e /etc/sealkit/lb", check=False).rc != 0
        assert VIP not in c.run("ip -o addr show dev lo").stdout
        assert c.run(f"ss -Hltn 'sport = :{PORT}'").stdout.strip() == ""
        assert "sealkit-lb" not in c.run("systemctl list-units --all --no-legend --plain").stdout
        assert "sealkit" not in c.run("ls /etc/systemd/system").stdout


def test_vanished_master_no_rst(
    fresh_hosts: Callable[..., Any], pins: Path, conns: dict[str, Connection]
) -> None:
    """A master whose cable is cut (packets dropped, no RST): checks time out instead of failing
    at once, so detection is slower; new connections meanwhile wait out the 1 s connect timeout
    and are retried on another master. Two requests may fail, both inside the detection window:
    one in flight on the cut master when the cable goes (TCP passthrough cannot replay bytes
    already sent) and one still connecting to it when it is marked DOWN (shutdown-sessions cuts
    it). client-go retries both; after detection nothing fails."""
    hosts = fresh_hosts(4, systemd=True)
    masters, worker = list(hosts[:3]), hosts[3]
    for h in hosts:
        conns[h.ip] = _connect(h, pins)
    fake = Masters(masters, conns)
    c = conns[worker.ip]
    backends = [Endpoint(m.ip, PORT) for m in masters]
    ref = _ref(worker, c, "node")
    assert HAPlugin().sealkit_configure_lb(ctx=_ctx(masters, [worker]), host=ref, backends=backends)
    _wait("all UP", lambda: _try(lambda: set(_status(c).values()) == {"UP"}))
    client = Client(c, fake.ca_pem)
    victim = masters[1]
    time.sleep(2)
    t_cut = time.time()
    hosts.lab.cut(victim)
    t_cut_done = time.time()
    try:
        detected = _wait("victim DOWN", lambda: _status(c).get(f"{victim.ip}:{PORT}") == "DOWN")
        t_down = time.time()
        time.sleep(3)
    finally:
        hosts.lab.restore(victim)
    t_restored = time.time()
    _wait("victim UP", lambda: _status(c).get(f"{victim.ip}:{PORT}") == "UP")
    time.sleep(1)
    records = client.stop()
    window = [r for r in records if t_cut <= r["t"] < t_down]
    log.warning(
        "no-RST master marked DOWN %.2f s after the cut; %d requests in that window, slowest "
        "%.2f s, %d failed",
        detected,
        len(window),
        max((r["dt"] for r in window), default=0),
        sum(not r["ok"] for r in window),
    )
    failed = [r for r in records if not r["ok"]]
    # sequential client: at most one request in flight at the cut, one at the mark-down
    assert len(failed) <= 2, failed
    assert all(t_cut - 5 < r["t"] <= t_down for r in failed), (t_cut, t_cut_done, t_down, failed)
    assert all(r["ok"] for r in records if r["t"] > t_down)
    down = _summary(records, t_down, t_restored)
    assert down[0] > 10 and victim.name not in down[2]
