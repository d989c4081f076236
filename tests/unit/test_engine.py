"""Engine logic without machines: version rules, planning, transfer planning, facts, journaled phases."""

from __future__ import annotations

import pytest

from sealkit.builtin.preflight import parse_facts
from sealkit.engine import versions
from sealkit.engine.distribute import Entry, _parse_probe, plan_transfer
from sealkit.engine.runner import CLUSTER, PARALLEL, SERIAL, Phase, PhaseFailed, Plan, Step, execute
from sealkit.errors import StepFailed, UsageError
from sealkit.state import Journal


@pytest.mark.parametrize(
    ("current", "target", "expected"),
    [
        ("", "v1.30.4", None),
        ("v1.30.4", "v1.30.4", None),
        ("v1.30.4", "v1.30.5", "v1.30.5"),
        ("v1.30.4+k3s1", "v1.31.0+k3s1", "v1.31.0+k3s1"),
        ("v1.30.4", "v1.30.4+k3s2", None),
    ],
)
def test_upgrade_steps(current, target, expected):
    assert versions.plan_upgrade(current, target) == expected


@pytest.mark.parametrize(
    ("current", "target", "words"),
    [
        ("v1.30.4", "v1.29.9", "downgrade"),
        ("v1.30.4", "v1.32.0", "skip a minor"),
        ("v1.30.4", "v2.0.0", "major"),
        ("v1.30.4", "latest", "not a Kubernetes version"),
    ],
)
def test_upgrade_refusals(current, target, words):
    with pytest.raises(UsageError, match=words) as exc:
        versions.plan_upgrade(current, target)
    assert exc.value.exit_code == 2


def test_skipped_minor_names_the_next_step():
    with pytest.raises(UsageError) as exc:
        versions.plan_upgrade("v1.30.4", "v1.32.1")
    assert "v1.31.x" in str(exc.value)


def _e(path, digest, size=3):
    return Entry(path, digest, size, 0o644)


def test_transfer_sends_only_what_the_host_lacks():
    local = {"bin/a": _e("bin/a", "aa"), "bin/b": _e("bin/b", "bb"), "etc/c": _e("etc/c", "cc")}
    remote = {"bin/a": "aa", "bin/b": "old", "etc/c": "cc"}
    sizes = {"bin/a": 3, "bin/b": 3}  # etc/c recorded but deleted on disk
    assert [e.path for e in plan_transfer(local, remote, sizes)] == ["bin/b", "etc/c"]


def test_transfer_nothing_when_all_present():
    local = {"x": _e("x", "11")}
    assert plan_transfer(local, {"x": "11"}, {"x": 3}) == []


def test_probe_output_parsing_tolerates_a_damaged_manifest():
    remote, sizes = _parse_probe("{not json\n---sizes---\nbin/a\t12\nweird line\n")
    assert remote == {}
    assert sizes == {"bin/a": 12}


def test_facts_parsing():
    out = "\n".join(
        [
            "hostname=lab-h1",
            "arch=x86_64",
            "now=1000",
            "free_mb=5000",
            "listening=22,6443,",
            "foreign=/etc/kubernetes/admin.conf",
        ]
    )
    facts = parse_facts(out, controller_now=990.0)
    assert facts["hostname"] == "lab-h1"
    assert facts["arch"] == "amd64"
    assert facts["clock_skew_s"] == 10
    assert facts["listening_ports"] == [22, 6443]
    assert facts["foreign_cluster"] == ["/etc/kubernetes/admin.conf"]


class _Hooks:
    def __init__(self, calls):
        self.calls = calls

    def sealkit_pre_phase(self, ctx, phase, hosts):
        self.calls.append(("pre", phase))

    def sealkit_post_phase(self, ctx, phase, hosts):
        self.calls.append(("post", phase))


class _Ctx:
    """Just enough of ClusterContext for the runner: hook relay, hosts, and a serial fleet."""

    def __init__(self, calls):
        from sealkit.testing.recording import RecordingFleet

        self.pm = type("PM", (), {"hook": _Hooks(calls)})()
        self.hosts = {}
        self.fleet = RecordingFleet()


def test_phases_run_in_order_and_are_journaled(tmp_path):
    calls: list = []
    ctx = _Ctx(calls)
    plan = Plan("t")
    plan.add(
        "one",
        PARALLEL,
        [
            Step("a", "10.0.0.1", lambda: calls.append("a1")),
            Step("a", "10.0.0.2", lambda: calls.append("a2")),
        ],
    )
    plan.add("two", CLUSTER, [Step("b", None, lambda: calls.append("b"))])
    plan.add("empty", SERIAL, [])
    journal = Journal(tmp_path / "journal.jsonl")
    execute(ctx, plan, journal, "run1")
    assert calls == [
        ("pre", "one"),
        "a1",
        "a2",
        ("post", "one"),
        ("pre", "two"),
        "b",
        ("post", "two"),
    ]
    done = [(e.phase, e.host, e.status) for e in journal.entries("run1") if e.status == "done"]
    assert done == [("one", "10.0.0.1", "done"), ("one", "10.0.0.2", "done"), ("two", "-", "done")]
    assert [p.name for p in plan.phases] == ["one", "two"]


def test_a_failed_host_stops_before_the_next_phase_and_is_named(tmp_path):
    calls: list = []
    ctx = _Ctx(calls)

    def boom():
        raise StepFailed("disk full", host="10.0.0.2")

    plan = Plan("t")
    plan.add(
        "one",
        PARALLEL,
        [Step("a", "10.0.0.1", lambda: calls.append("a1")), Step("a", "10.0.0.2", boom)],
    )
    plan.add("two", CLUSTER, [Step("b", None, lambda: calls.append("b"))])
    journal = Journal(tmp_path / "journal.jsonl")
    with pytest.raises(PhaseFailed) as exc:
        execute(ctx, plan, journal, "run1")
    assert "10.0.0.2" in str(exc.value) and "disk full" in str(exc.value)
    assert "b" not in calls and "a1" in calls  # other hosts of the phase still finished
    failed = [e.host for e in journal.entries("run1") if e.status == "failed"]
    assert failed == ["10.0.0.2"]


def test_plan_dict_lists_hosts_and_steps():
    plan = Plan("converge", [Phase("init", SERIAL, [Step("init", "10.0.0.1", lambda: None)])])
    assert plan.as_dict() == {
        "operation": "converge",
        "phases": [{"phase": "init", "mode": "serial", "steps": ["init @ 10.0.0.1"]}],
    }


def test_hosts_joining_in_parallel_are_all_recorded(tmp_path):
    """join-nodes runs on parallel threads; each marks its host joined in applied.json (a lost update
    made the next `add` redo a worker's whole install)."""
    from concurrent.futures import ThreadPoolExecutor
    from types import SimpleNamespace

    from sealkit.engine import ops
    from sealkit.engine.applied import Applied
    from sealkit.state import ClusterState

    state = ClusterState("c", tmp_path)
    state.ensure()
    ips = [f"10.0.0.{i}" for i in range(1, 41)]
    hosts = {ip: SimpleNamespace(roles=["node"], hostname=f"h{ip}", is_master=False) for ip in ips}
    ctx = SimpleNamespace(state=state, hosts=hosts, image_version="v1.30.4")
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda ip: ops._mark_joined(ctx, ip), ips))
    applied = Applied.load(state.dir)
    assert sorted(ip for ip in ips if applied.joined(ip)) == sorted(ips)


def test_an_env_change_on_installed_hosts_is_announced_by_key_not_value(caplog):
    from dataclasses import replace

    from sealkit.cluster import Cluster, Host
    from sealkit.engine.applied import Applied, AppliedHost
    from sealkit.engine.ops import _warn_env_change

    saved = Cluster(name="c", hosts=[Host(ip="10.0.0.1", roles=["master"])], env={"A": "1", "PW": "old"})
    applied = Applied(hosts={"10.0.0.1": AppliedHost(["master"], joined=True)})
    with caplog.at_level("WARNING", logger="sealkit"):
        _warn_env_change(saved, saved, applied)
        assert caplog.records == []
        _warn_env_change(saved, replace(saved, env={"A": "1", "PW": "s3cret"}), applied)
        _warn_env_change(saved, replace(saved, env={"B": "2"}), Applied())  # nothing installed yet
    (record,) = caplog.records
    assert "PW" in record.getMessage() and "10.0.0.1" in record.getMessage()
    assert "s3cret" not in record.getMessage() and "old" not in record.getMessage()


# ------------------------------------------------------------- issue 14, item 5: lock before reading state
def test_an_upgrade_that_was_pulling_cannot_undo_a_concurrent_add(tmp_path, monkeypatch):
    """``upgrade`` reads the saved Clusterfile under the cluster lock and keeps it while it pulls: an ``add``
    meanwhile is refused, instead of finishing and then having its hosts drained and reset by the upgrade."""
    import contextlib
    import threading
    from types import SimpleNamespace

    from sealkit.cluster import cluster_from_flags
    from sealkit.engine import images, ops
    from sealkit.engine.applied import Applied, AppliedHost
    from sealkit.engine.options import Options
    from sealkit.state import ClusterState

    monkeypatch.setenv("SEALKIT_HOME", str(tmp_path / "home"))
    state = ClusterState("c1")
    base = cluster_from_flags(
        masters="10.0.0.1", nodes="10.0.0.2", password="pw", images=["img:v1"], name="c1", runtime="k3s"
    )
    state.save_clusterfile(base)
    hosts = {"10.0.0.1": AppliedHost(["master"], joined=True), "10.0.0.2": AppliedHost(["node"], joined=True)}
    Applied(runtime="k3s", image="img:v1", version="v1.30.1", initialized=True, hosts=hosts).save(state.dir)

    pulling, add_finished = threading.Event(), threading.Event()
    seen: dict[str, object] = {}

    class Planned(Exception):
        pass

    def slow_resolve(ref, arch=None, pull=False):
        pulling.set()
        add_finished.wait(10)
        labels = {"sealkit.io/version": "v1.30.2", "sealkit.io/runtime": "k3s"}
        return images.ResolvedImage(
            ref=ref, digest="sha256:" + "0" * 64, labels=labels, rootfs=tmp_path / "r"
        )

    def record_plan(ctx, desired, applied, removed, image, upgrade_to):
        seen["removed"] = [h.ip for h in removed]
        raise Planned

    @contextlib.contextmanager
    def no_hosts(*_a, **_kw):
        yield SimpleNamespace()

    monkeypatch.setattr(images, "resolve", slow_resolve)
    monkeypatch.setattr(ops, "build_plan", record_plan)
    monkeypatch.setattr(ops, "open_context", no_hosts)

    def upgrade():
        with contextlib.suppress(Planned):
            ops.upgrade(Options(cluster="c1"), image="img:v2")

    def add():  # what `sealkit add --nodes 10.0.0.3` does to the saved state, in another process
        pulling.wait(10)
        other = ClusterState("c1")
        try:
            with other.lock():
                cf = other.load_clusterfile()
                extra = cluster_from_flags(nodes="10.0.0.3", password="pw").hosts
                other.save_clusterfile(type(cf)(**{**cf.__dict__, "hosts": [*cf.hosts, *extra]}))
                applied = Applied.load(other.dir)
                applied.hosts["10.0.0.3"] = AppliedHost(["node"], joined=True)
                applied.save(other.dir)
            seen["add"] = "done"
        except UsageError as err:
            seen["add"] = err
        finally:
            add_finished.set()

    threads = [threading.Thread(target=upgrade), threading.Thread(target=add)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert seen["removed"] == [], "the upgrade would drain and reset the host the add just joined"
    assert isinstance(seen["add"], UsageError) and "locked" in seen["add"].message


# ------------------------------------------------ issue 12 item 2: every port and name sealkit claims
def _preflight_ctx(default_ha="haproxy"):
    from sealkit.cluster import Cluster, Host
    from sealkit.context import ClusterContext, RuntimeInfo

    hosts = [Host(ip=ip, roles=["master"]) for ip in ("10.0.0.1", "10.0.0.2")] + [
        Host(ip="10.0.0.9", roles=["node"])
    ]
    return ClusterContext(
        cluster=Cluster(name="t", hosts=hosts),
        state=None,
        fleet=None,
        pm=None,
        runtime=RuntimeInfo("t", master_ports=(6443, 2379), node_ports=(10250,), default_ha=default_ha),
        pki=None,
    )


def _preflight(ctx, ip, **facts):
    from types import SimpleNamespace

    from sealkit.builtin.preflight import PreflightPlugin

    host = SimpleNamespace(ip=ip, is_master=ip != "10.0.0.9", facts=facts)
    return PreflightPlugin().sealkit_preflight(ctx=ctx, host=host)


def test_preflight_claims_the_registry_ports_on_every_master():
    ctx = _preflight_ctx()
    (second,) = _preflight(ctx, "10.0.0.2", listening_ports=[5000, 5001])
    assert "5000 (the registry)" in second and "5001 (the registry's push endpoint)" in second
    assert "spec.registry.port" in second  # the way out that keeps the host's own service
    assert _preflight(ctx, "10.0.0.9", listening_ports=[5000, 5001]) == []


def test_preflight_claims_the_lb_port_on_workers_unless_the_runtime_balances():
    (busy,) = _preflight(_preflight_ctx(), "10.0.0.9", listening_ports=[6443])
    assert "6443 (the apiserver load balancer)" in busy and "spec.registry.port" not in busy
    assert _preflight(_preflight_ctx(default_ha="native"), "10.0.0.9", listening_ports=[6443]) == []


def test_preflight_refuses_a_hosts_file_that_gives_the_registry_name_away():
    out = "hostname=h\narch=x86_64\netc_hosts=10.9.9.9 sealkit.hub\netc_hosts=127.0.0.1 localhost\n"
    facts = parse_facts(out + "etc_hosts=not-an-ip evil\netc_hosts=10.0.0.1 Bad_Name!\n", controller_now=0)
    assert facts["etc_hosts"] == [("10.9.9.9", "sealkit.hub"), ("127.0.0.1", "localhost")]
    (clash,) = _preflight(_preflight_ctx(), "10.0.0.9", **facts)
    assert "/etc/hosts maps sealkit.hub to 10.9.9.9 outside sealkit's block" in clash


def test_facts_script_reads_names_outside_sealkits_block_only(tmp_path):
    """The awk part of FACTS_SCRIPT run by a real shell against a hosts file with sealkit's block."""
    import subprocess

    from sealkit.builtin.preflight import FACTS_SCRIPT

    part = next(p for p in FACTS_SCRIPT.split("; ") if p.startswith("awk"))
    hosts = tmp_path / "hosts"
    hosts.write_text(
        "127.0.0.1 localhost loop # comment\n# 10.1.1.1 commented\n"
        "# sealkit begin\n10.0.0.1 sealkit.hub\n# sealkit end\n10.2.2.2 other\n"
    )
    out = subprocess.run(["sh", "-c", part.replace("/etc/hosts", str(hosts))], capture_output=True, text=True)
    assert out.stdout.splitlines() == [
        "etc_hosts=127.0.0.1 localhost",
        "etc_hosts=127.0.0.1 loop",
        "etc_hosts=10.2.2.2 other",
    ]


def test_status_facts_are_the_name_and_arch_in_one_fork():
    """`status` asks hosts only what it shows (the full facts script's ss/df/awk cost the hosts' CPU)."""
    import platform
    import subprocess

    from sealkit.builtin.preflight import STATUS_FACTS_SCRIPT

    out = subprocess.run(["sh", "-c", STATUS_FACTS_SCRIPT], capture_output=True, text=True, check=True).stdout
    facts = parse_facts(out, controller_now=0)
    assert facts["hostname"] == platform.node().lower() and facts["arch"] in ("amd64", "arm64")
    assert "listening_ports" not in facts
