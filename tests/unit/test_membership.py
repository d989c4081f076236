"""The engine's side of failures (issue 18 item 2, issue 12 items 4 and 5) and of several registries (issue 18
item 1): membership follows facts, state survives a failed first run, reset keeps unreachable hosts, secrets
stay out of the saved Clusterfile, status says why a host is unreachable, a dead first master is stood in for,
and the registry set follows the masters."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from types import SimpleNamespace

import pytest

from sealkit.cluster import Cluster, Host, cluster_from_flags
from sealkit.context import ClusterContext, HostRef, RuntimeInfo
from sealkit.engine import images, ops
from sealkit.engine.applied import Applied, AppliedHost
from sealkit.engine.options import Options
from sealkit.engine.runner import CLUSTER, Plan
from sealkit.errors import ConnectError, HostKeyChanged, SealkitError, StepFailed, UsageError
from sealkit.pki.store import PKIStore
from sealkit.state import ClusterState
from tests.unit.test_registry import FakeConn

M1, M2, M3, W1, W2 = "10.213.0.11", "10.213.0.12", "10.213.0.13", "10.213.0.21", "10.213.0.22"


class _Fleet:
    """``map`` as the SSH fleet does it (result or exception per address), serially."""

    def map(self, fn, addresses):
        out = {}
        for ip in addresses:
            try:
                out[ip] = fn(SimpleNamespace(target=SimpleNamespace(address=ip, label=ip)))
            except SealkitError as exc:  # the fleet hands exceptions back as results
                out[ip] = exc
        return out


def _ctx(tmp_path, hosts, *, down=(), mirror_files=()):
    ctx = ClusterContext(
        cluster=Cluster(name="t", hosts=hosts),
        state=ClusterState("t", home=tmp_path / "home"),
        fleet=_Fleet(),
        pm=SimpleNamespace(
            hook=SimpleNamespace(
                sealkit_registry_mirror_config=lambda ctx, host, registry: list(mirror_files),
                sealkit_sync_images=lambda ctx, registry: ctx.synced.append(registry),
            )
        ),
        runtime=RuntimeInfo("test"),
        pki=PKIStore(tmp_path / "home" / "pki"),
    )
    ctx.synced = []  # type: ignore[attr-defined]
    for h in hosts:
        if h.ip not in down:
            ctx.hosts[h.ip] = HostRef(spec=h, conn=FakeConn({"/etc/hosts": b"127.0.0.1 localhost\n"}))
    return ctx


def _masters(*ips):
    return [Host(ip=ip, roles=["master"]) for ip in ips]


def _nodes(*ips):
    return [Host(ip=ip, roles=["node"]) for ip in ips]


def _applied(*joined):
    return Applied(
        runtime="k3s",
        version="v1.30.1",
        initialized=True,
        hosts={ip: AppliedHost(["master"], joined=True) for ip in joined},
    )


IMAGE = images.ResolvedImage(
    ref="img:v1", digest="sha256:" + "0" * 64, labels={}, rootfs=Path("/nonexistent")
)


# ---------------------------------------------------------------------- the registry set in the plan
def test_adding_a_master_tells_every_joined_host_about_its_registry(tmp_path):
    hosts = [*_masters(M1, M2), *_nodes(W1)]
    ctx = _ctx(tmp_path, hosts)
    plan = ops.build_plan(ctx, Cluster(name="t", hosts=hosts), _applied(M1, W1), [], IMAGE, None)
    phases = {p.name: p for p in plan.phases}
    assert ops.REGISTRY_CONFIG_PHASE in phases and phases[ops.REGISTRY_CONFIG_PHASE].mode == CLUSTER
    assert "images" in phases  # the new master's registry gets the images before anyone is told of it
    order = [p.name for p in plan.phases]
    assert order.index("images") < order.index(ops.REGISTRY_CONFIG_PHASE)
    # a cluster-level step: the joined hosts are not "changed hosts" of the add (the worker is, for its LB)
    assert [s.host for s in phases[ops.REGISTRY_CONFIG_PHASE].steps] == [None]
    assert plan.touched_hosts() == {M2, W1} and [s.host for s in phases["lb"].steps] == [W1]


def test_adding_a_node_leaves_the_registry_set_alone(tmp_path):
    hosts = [*_masters(M1), *_nodes(W1, W2)]
    plan = ops.build_plan(
        _ctx(tmp_path, hosts), Cluster(name="t", hosts=hosts), _applied(M1, W1), [], IMAGE, None
    )
    assert ops.REGISTRY_CONFIG_PHASE not in {p.name for p in plan.phases}


def test_an_upgrade_syncs_the_new_images(tmp_path):
    hosts = _masters(M1)
    plan = ops.build_plan(
        _ctx(tmp_path, hosts), Cluster(name="t", hosts=hosts), _applied(M1), [], IMAGE, "v1.31.0"
    )
    assert "images" in {p.name for p in plan.phases}


def test_removing_a_pending_host_resets_it_without_draining(tmp_path):
    """A host a failed add left pending never joined: there is no node to drain, but what the add began
    (rootfs, registry files) is reset."""
    hosts = _masters(M1)
    ctx = _ctx(tmp_path, [*hosts, *_nodes(W1)])
    plan = ops.build_plan(ctx, Cluster(name="t", hosts=hosts), _applied(M1), _nodes(W1), IMAGE, None)
    phases = {p.name: [s.host for s in p.steps] for p in plan.phases}
    assert phases.get("drain", []) == [] and phases["reset"] == [W1]


def test_sync_skips_a_dead_master_and_says_so(tmp_path, caplog):
    ctx = _ctx(tmp_path, _masters(M1, M2, M3), down=(M1,))
    with caplog.at_level(logging.WARNING, logger="sealkit.engine"):
        ops._sync_images(ctx)
    (info,) = ctx.synced
    assert info.hosts == (M2, M3) and info.port == 5001  # the push instances of the masters that are up
    assert f"not synced to the registry on {M1} (unreachable)" in caplog.text


def test_sync_without_any_reachable_registry_fails(tmp_path):
    ctx = _ctx(tmp_path, _masters(M1, M2), down=(M1, M2))
    with pytest.raises(ConnectError, match="no registry host is reachable"):
        ops._sync_images(ctx)


def test_registry_list_refresh_reaches_every_joined_host_that_is_up(tmp_path, caplog):
    mirror = SimpleNamespace(path="/etc/rancher/k3s/registries.yaml", content=b"mirrors", mode=0o600)
    ctx = _ctx(tmp_path, [*_masters(M1, M2, M3), *_nodes(W1)], down=(M3,), mirror_files=[mirror])
    with caplog.at_level(logging.WARNING, logger="sealkit.engine"):
        ops._refresh_registry_config(ctx, [M1, M2, M3, W1])
    block = ctx.hosts[W1].conn.files["/etc/hosts"].decode()
    assert [ln for ln in block.splitlines() if "sealkit.hub" in ln] == [
        f"{ip} sealkit.hub" for ip in (M1, M2, M3)
    ]
    assert ctx.hosts[M1].conn.files["/etc/rancher/k3s/registries.yaml"] == b"mirrors"
    assert f"registry list not updated on {M3} (unreachable)" in caplog.text


def test_a_dead_first_master_is_stood_in_for_by_a_live_one(tmp_path, caplog):
    ctx = _ctx(tmp_path, [*_masters(M1, M2, M3), *_nodes(W1)], down=(M1,))
    with caplog.at_level(logging.WARNING, logger="sealkit.engine"):
        ops._live_first_master(ctx, _applied(M1, M2, M3))
    assert ctx.first_master.ip == M2 and [h.ip for h in ctx.cluster.masters] == [M2, M1, M3]
    assert "the first master 10.213.0.11 is down" in caplog.text


def test_no_live_master_is_a_connect_error(tmp_path):
    ctx = _ctx(tmp_path, _masters(M1, M2), down=(M1, M2))
    with pytest.raises(ConnectError, match="no master of the cluster is reachable"):
        ops._live_first_master(ctx, _applied(M1, M2))


def test_connect_for_plan_tolerates_other_masters_being_down(tmp_path, monkeypatch):
    """``add --nodes`` touches only the new node; the masters are asked too, but may be down."""
    hosts = [*_masters(M1, M2), *_nodes(W1)]
    ctx = _ctx(tmp_path, hosts)
    ctx.hosts.clear()
    calls = []

    def fake_connect(ctx, hs, *, tolerate, optional=None):
        calls.append(([h.ip for h in hs], tolerate))
        for h in hs:
            if h.ip != M1:
                ctx.hosts[h.ip] = HostRef(spec=h, conn=FakeConn())
        return [h for h in hs if h.ip in ctx.hosts]

    monkeypatch.setattr(ops, "_connect", fake_connect)
    plan = Plan("t")
    plan.add("join-nodes", "parallel", [ops.Step("join-node", W1, lambda: None)])
    ops._connect_for_plan(ctx, plan, hosts, _applied(M1, M2), [], force=False)
    assert calls == [([W1], False), ([M1, M2], True)]
    assert ctx.first_master.ip == M2


# ------------------------------------------------------------------------------- membership (add)
def _saved_state(tmp_path, monkeypatch, joined, saved_hosts):
    monkeypatch.setenv("SEALKIT_HOME", str(tmp_path / "home"))
    state = ClusterState("c1")
    cf = cluster_from_flags(
        masters=M1, nodes=",".join(saved_hosts), images=["img:v1"], name="c1", runtime="k3s"
    )
    state.save_clusterfile(cf)
    Applied(
        runtime="k3s",
        version="v1.30.1",
        initialized=True,
        hosts={ip: AppliedHost(["node"], joined=True) for ip in joined},
    ).save(state.dir)
    return state


def _add(monkeypatch, nodes):
    seen = {}

    def converge(options, desired, state, *, save_secrets=False):
        seen["hosts"] = [h.ip for h in desired.hosts]
        return {}

    monkeypatch.setattr(ops, "_converge_locked", converge)
    ops.add(
        Options(cluster="c1"),
        masters="",
        nodes=nodes,
        user=None,
        password=None,
        key=None,
        key_passphrase=None,
        port=None,
    )
    return seen["hosts"]


def test_the_same_add_finishes_a_host_a_failed_add_left_pending(tmp_path, monkeypatch):
    _saved_state(tmp_path, monkeypatch, joined=[M1], saved_hosts=[W1])  # W1 saved, never joined
    assert _add(monkeypatch, W1) == [M1, W1]  # once, not refused as "already in cluster"


def test_adding_a_joined_host_again_is_refused(tmp_path, monkeypatch):
    _saved_state(tmp_path, monkeypatch, joined=[M1, W1], saved_hosts=[W1])
    with pytest.raises(UsageError, match=f"already in cluster c1: {W1}"):
        _add(monkeypatch, W1)


# ------------------------------------------------------------------------ state on a failed first run
def test_a_first_run_that_cannot_connect_leaves_a_cluster_status_and_reset_accept(tmp_path, monkeypatch):
    monkeypatch.setenv("SEALKIT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv(ops.PASSWORD_ENV, raising=False)
    (tmp_path / "r").mkdir()
    monkeypatch.setattr(
        images,
        "resolve",
        lambda ref, arch=None, pull=False: images.ResolvedImage(
            ref=ref,
            digest="sha256:" + "0" * 64,
            labels={"sealkit.io/version": "v1.30.1"},
            rootfs=tmp_path / "r",
        ),
    )

    @contextlib.contextmanager
    def ctx_for(options, cluster, state, **_kw):
        yield _ctx(tmp_path, cluster.hosts)

    def unreachable(*_a, **_kw):
        raise ConnectError("1 host(s) unreachable", step="connect")

    monkeypatch.setattr(ops, "open_context", ctx_for)
    monkeypatch.setattr(ops, "_connect_for_plan", unreachable)
    with pytest.raises(ConnectError):
        ops.run(
            Options(cluster="first", runtime="k3s"),
            images=["img:v1"],
            masters=M1,
            nodes=W1,
            user="root",
            password="s3cret-pw",
            key=None,
            key_passphrase=None,
            port=None,
            env=[],
        )
    state = ClusterState("first")
    assert state.exists()  # `status` and `reset` find the cluster
    assert [h.ip for h in state.load_clusterfile().hosts] == [M1, W1]
    assert "s3cret-pw" not in state.clusterfile_path.read_text()  # never saved unless asked


def test_the_password_variable_wins_over_a_saved_password(tmp_path, monkeypatch):
    monkeypatch.setenv("SEALKIT_HOME", str(tmp_path / "home"))
    state = ClusterState("c1")
    state.save_clusterfile(
        cluster_from_flags(masters=M1, user="ops", password="old", images=["i"], name="c1")
    )
    monkeypatch.setenv(ops.PASSWORD_ENV, "new")
    cf = ops._load_saved(state)
    assert {h.ssh.passwd for h in cf.hosts} == {"new"} and cf.ssh.passwd == "new"
    assert {h.ssh.sudo_passwd for h in cf.hosts} == {"new"}  # derived from the login password


def test_secrets_are_saved_only_when_asked(tmp_path, monkeypatch):
    monkeypatch.setenv("SEALKIT_HOME", str(tmp_path / "home"))
    cf = cluster_from_flags(masters=M1, user="ops", password="pw-1", images=["i"], name="c1")
    state = ClusterState("c1")
    ops._save(state, cf, save_secrets=False)
    assert "pw-1" not in state.clusterfile_path.read_text()
    ops._save(state, cf, save_secrets=True)
    assert "pw-1" in state.clusterfile_path.read_text()
    assert state.clusterfile_path.stat().st_mode & 0o777 == 0o600


# ----------------------------------------------------------------------------------------- reset
def _reset(tmp_path, monkeypatch, *, up, forget=()):
    monkeypatch.setenv("SEALKIT_HOME", str(tmp_path / "home"))
    state = ClusterState("c1")
    cf = cluster_from_flags(masters=M1, nodes=f"{W1},{W2}", images=["i"], name="c1", runtime="k3s")
    state.save_clusterfile(cf)
    Applied(
        runtime="k3s",
        initialized=True,
        hosts={ip: AppliedHost(["x"], joined=True) for ip in (M1, W1, W2)},
    ).save(state.dir)
    ctx = _ctx(tmp_path, cf.hosts)
    monkeypatch.setattr(ops, "_connect", lambda ctx, hosts, **kw: [h for h in hosts if h.ip in up])
    monkeypatch.setattr(ops, "_execute", lambda ctx, state, plan, applied=None: "run")
    options = Options(cluster="c1", force=True)
    return state, lambda: ops._reset_locked(options, state, cf, ctx, forget=set(forget))


def test_reset_with_an_unreachable_host_keeps_its_state_and_fails_naming_it(tmp_path, monkeypatch):
    state, reset = _reset(tmp_path, monkeypatch, up={M1, W1})
    with pytest.raises(ConnectError, match=f"unreachable, still holding sealkit's files: {W2}") as err:
        reset()
    assert f"--forget {W2}" in err.value.hint
    assert state.exists() and list(Applied.load(state.dir).hosts) == [W2]


def test_reset_forgets_only_what_it_is_told_to(tmp_path, monkeypatch):
    state, reset = _reset(tmp_path, monkeypatch, up={M1, W1}, forget={W2})
    assert reset() == {"reset": [M1, W1], "unreachable": [], "forgotten": [W2]}
    assert not state.exists()


# ---------------------------------------------------------------------------------------- status
def test_status_says_why_each_host_is_unreachable(tmp_path):
    errors = {
        M1: HostKeyChanged(
            "REMOTE HOST KEY CHANGED for 10.213.0.11",
            step="host-key",
            hint="ssh-keygen -f /x/known_hosts -R '10.213.0.11'",
        ),
        M2: ConnectError("authentication as 'root' failed (tried publickey)", step="auth"),
        W1: ConnectError(
            "cannot connect to 10.213.0.21:22 after 3 attempt(s): ConnectionRefusedError: [Errno 111] "
            "Connection refused",
            step="connect",
        ),
        W2: ConnectError("cannot connect to 10.213.0.22:22 after 3 attempt(s): TimeoutError: timed out"),
    }
    reasons = {ip: ops.unreachable_reason(err) for ip, err in errors.items()}
    assert {ip: r["reason"] for ip, r in reasons.items()} == {
        M1: "host key changed",
        M2: "auth failed",
        W1: "connection refused",
        W2: "timeout",
    }
    assert reasons[M1]["fix"].startswith("ssh-keygen -f")  # the fix command travels with the reason
    rows = [{"host": ip, "reachable": False, **r} for ip, r in reasons.items()] + [
        {"host": M3, "reachable": True}
    ]
    err = ops.unreachable_error(rows)
    assert isinstance(err, ConnectError) and err.exit_code == 4 and "4 host(s) unreachable" in err.message
    assert ops.unreachable_error([{"host": M3, "reachable": True}]) is None


def test_connect_each_keeps_each_hosts_own_error(tmp_path, monkeypatch):
    from sealkit.builtin import preflight

    hosts = [*_masters(M1), *_nodes(W1)]
    ctx = _ctx(tmp_path, hosts)
    ctx.hosts.clear()

    class Conn:
        def __init__(self, ip):
            self.ip = ip
            self.target = SimpleNamespace(address=ip, label=ip)

        def run(self, cmd, sudo=None, timeout=None, idempotent=False):
            assert idempotent  # a read: a dropped link is re-dialled and the facts asked again
            if self.ip == W1:
                raise ConnectError("cannot connect: Connection refused", host=W1, step="connect")
            return SimpleNamespace(stdout="hostname=m1\narch=x86_64\nnow=1\n")

    ctx.fleet = SimpleNamespace(
        map=lambda fn, ips: {ip: _call(fn, Conn(ip)) for ip in ips},
        conn=lambda ip: Conn(ip),
    )
    down = ops.connect_each(ctx, hosts)
    assert list(ctx.hosts) == [M1] and ctx.hosts[M1].hostname == "m1"
    assert ops.unreachable_reason(down[W1])["reason"] == "connection refused"
    assert preflight.FACTS_SCRIPT  # the same one round trip as gather_facts


def _call(fn, arg):
    try:
        return fn(arg)
    except SealkitError as exc:
        return exc


def test_facts_refusal_is_not_reported_as_a_dead_host():
    assert ops.unreachable_reason(StepFailed("the host reports hostname 'X_Y'", step="facts"))["reason"] == (
        "facts refused"
    )


def test_a_password_given_again_reaches_the_hosts_saved_without_one(tmp_path, monkeypatch):
    """Saved Clusterfiles hold no password: `run … -p PW` (or the variable) gives it to every host."""
    monkeypatch.setenv("SEALKIT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv(ops.PASSWORD_ENV, raising=False)
    state = ClusterState("c1")
    ops._save(
        state, cluster_from_flags(masters=M1, password="pw", images=["i"], name="c1"), save_secrets=False
    )
    seen = {}

    def converge(options, desired, state, *, save_secrets=False):
        seen.update({h.ip: h.ssh.passwd for h in desired.hosts})
        return {}

    monkeypatch.setattr(ops, "_converge_locked", converge)
    ops.run(
        Options(cluster="c1"),
        images=[],
        masters="",
        nodes=W1,
        user=None,
        password="pw",
        key=None,
        key_passphrase=None,
        port=None,
        env=[],
    )
    assert seen == {M1: "pw", W1: "pw"}


# ------------------------------------------------------------------------ an upgrade with a master down
def _versioned(**hosts):
    return Applied(
        runtime="k3s",
        version="v1.30.1",
        initialized=True,
        hosts={ip: AppliedHost(["master"], joined=True, version=v) for ip, v in hosts.items()},
    )


V2 = images.ResolvedImage(
    ref="img:v2", digest="sha256:" + "1" * 64, labels={"sealkit.io/version": "v1.31.0"}, rootfs=Path("/x")
)


def test_an_upgrade_leaves_a_dead_master_out_and_the_next_run_takes_it_up(tmp_path):
    hosts = _masters(M1, M2, M3)
    ctx = _ctx(tmp_path, hosts, down=(M1,))
    applied = _versioned(**{M1: "v1.30.1", M2: "v1.30.1", M3: "v1.30.1"})
    plan = ops.build_plan(ctx, Cluster(name="t", hosts=hosts), applied, [], V2, "v1.31.0")
    assert ops.upgrade_hosts(plan) == {M1, M2, M3}  # may be down: connected tolerantly
    skipped = ops.build_plan(
        ctx, Cluster(name="t", hosts=hosts), applied, [], V2, "v1.31.0", skip=frozenset({M1})
    )
    assert [s.host for p in skipped.phases if p.name == "upgrade-masters" for s in p.steps] == [M2, M3]
    # the next run (the cluster is at v1.31.0, the master that was down is not): it alone is upgraded
    later = _versioned(**{M1: "v1.30.1", M2: "v1.31.0", M3: "v1.31.0"})
    assert ops.lagging_hosts(Cluster(name="t", hosts=hosts), later, "v1.31.0") == {M1: "v1.30.1"}
    rerun = ops.build_plan(_ctx(tmp_path, hosts), Cluster(name="t", hosts=hosts), later, [], V2, None)
    assert [s.host for p in rerun.phases if p.name == "upgrade-masters" for s in p.steps] == [M1]
    assert "images" in {p.name for p in rerun.phases}


def test_no_lagging_host_means_no_upgrade_phase(tmp_path):
    hosts = _masters(M1)
    applied = _versioned(**{M1: "v1.31.0"})
    plan = ops.build_plan(_ctx(tmp_path, hosts), Cluster(name="t", hosts=hosts), applied, [], V2, None)
    assert plan.phases == []
