"""The engine's side of converging on real state: which hosts a re-run verifies, what its result reports,
and the digests recorded per host in the applied state."""

from __future__ import annotations

import json

import pytest

from sealkit.cluster import cluster_from_flags
from sealkit.engine import ops, verify
from sealkit.engine.applied import Applied, AppliedHost
from sealkit.engine.runner import PARALLEL, Plan, Step
from sealkit.errors import ConnectError, UsageError
from sealkit.hostops import Expectations


def _applied(*ips: str) -> Applied:
    return Applied(initialized=True, hosts={ip: AppliedHost(["node"], joined=True) for ip in ips})


def test_a_rerun_verifies_the_joined_hosts_the_plan_does_not_touch():
    desired = cluster_from_flags(masters="10.0.0.1", nodes="10.0.0.2,10.0.0.3,10.0.0.4")
    plan = Plan("converge")
    plan.add("join-nodes", PARALLEL, [Step("join-node", "10.0.0.4", lambda: None)])
    removed = cluster_from_flags(nodes="10.0.0.3").hosts
    applied = _applied("10.0.0.1", "10.0.0.2", "10.0.0.3")
    targets = ops._verify_targets(desired, applied, plan, removed)
    assert [h.ip for h in targets] == ["10.0.0.1", "10.0.0.2"]


def test_the_result_names_repairs_drift_left_with_its_fix_and_hosts_not_verified():
    checked = ops._Verification()
    left = verify.HostVerdict("10.0.0.2", Expectations())
    left.drift.append(verify.Drift("10.0.0.2", "unit", "k3s.service", "inactive/masked", False, "unmask it"))
    checked.verdicts = {"10.0.0.2": left, "10.0.0.1": verify.HostVerdict("10.0.0.1", Expectations())}
    checked.repaired.append({"host": "10.0.0.1", "what": "unit k3s.service inactive → restarted"})
    checked.failed = {"10.0.0.3": ConnectError("connection refused")}
    report = checked.report()
    assert report["verified"] == ["10.0.0.1", "10.0.0.2"]
    assert report["repaired"] == [{"host": "10.0.0.1", "what": "unit k3s.service inactive → restarted"}]
    assert report["drift"] == [
        {"host": "10.0.0.2", "what": "unit k3s.service inactive/masked", "fix": "unmask it"}
    ]
    assert report["not_verified"] == [{"host": "10.0.0.3", "error": "connection refused"}]


def test_recorded_digests_survive_a_save_and_a_damaged_record_is_refused(tmp_path):
    applied = _applied("10.0.0.1")
    applied.hosts["10.0.0.1"].files = {"/etc/a": "a" * 64}
    applied.save(tmp_path)
    assert Applied.load(tmp_path).hosts["10.0.0.1"].files == {"/etc/a": "a" * 64}
    raw = json.loads((tmp_path / "applied.json").read_text())
    raw["hosts"]["10.0.0.1"]["files"] = ["/etc/a"]
    (tmp_path / "applied.json").write_text(json.dumps(raw))
    with pytest.raises(UsageError, match="not a mapping of path to digest"):
        Applied.load(tmp_path)


def test_a_state_saved_before_digests_were_recorded_still_loads(tmp_path):
    (tmp_path / "applied.json").write_text(
        json.dumps({"initialized": True, "hosts": {"10.0.0.1": {"roles": ["master"], "joined": True}}})
    )
    assert Applied.load(tmp_path).hosts["10.0.0.1"].files == {}
