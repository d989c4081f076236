"""Converge on real state (issue 12 item 3): the one verification command, its strict parser (a host's
output is untrusted), and the judgement of drift against what sealkit recorded."""

from __future__ import annotations

import hashlib
import shlex
import subprocess

import pytest

from sealkit.engine import verify
from sealkit.errors import PluginError, StepFailed
from sealkit.hostops import Expectations, ExpectedFile

UNITS = ["k3s-agent.service", "sealkit-lb.service"]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _answer(*lines: str, systemd: bool = True) -> str:
    return "\n".join([verify.HEADER, "systemd" if systemd else "nosystemd", *lines, verify.END]) + "\n"


# ------------------------------------------------------------------------------------------ command
def test_command_runs_under_sh_and_reads_files_by_index_even_with_hostile_paths(tmp_path):
    odd = tmp_path / "it's $(touch pwned) `x` ;&|.conf"
    odd.write_bytes(b"hello\n")
    gone = tmp_path / "absent file"
    marker = tmp_path / "installed"
    marker.write_text("")
    paths = [str(odd), str(gone)]
    cmd = verify.command(UNITS, paths, marker=str(marker))
    out = subprocess.run(["sh", "-c", cmd], capture_output=True, text=True, cwd=tmp_path, check=True).stdout
    seen = verify.parse(out, UNITS, paths, host="10.0.0.9")
    assert seen.files == {str(odd): _sha(b"hello\n"), str(gone): None}
    assert seen.marker is True
    assert not (tmp_path / "pwned").exists()
    if not seen.systemd:  # this machine's PID 1 is not systemd: units are not asked
        assert seen.units == {}


SHOW = {  # what `systemctl show -p ActiveState -p UnitFileState` prints per unit (a blank line between)
    "k3s-agent.service": "ActiveState=failed\nUnitFileState=disabled\n",
    "sealkit-lb.service": "ActiveState=active\nUnitFileState=enabled\n",
    "gone.service": "ActiveState=inactive\nUnitFileState=\n",
}


@pytest.mark.parametrize(
    ("units", "answers"),
    [
        (["k3s-agent.service", "sealkit-lb.service"], [("failed", "disabled"), ("active", "enabled")]),
        (["gone.service", "sealkit-lb.service"], [("inactive", "unknown"), ("active", "enabled")]),
        (["sealkit-lb.service"], [("active", "enabled")]),
    ],
)
def test_one_systemctl_show_answers_for_every_unit_in_order(tmp_path, units, answers):
    """The unit part as a systemd host runs it: a stand-in `systemctl` prints show's blocks (stdin-free,
    blank line between units, none after the last) and the command turns them into one line per unit."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    blocks = "\n".join(SHOW[u] for u in units)
    fake = bin_dir / "systemctl"
    fake.write_text(f"#!/bin/sh\nprintf '%s' {shlex.quote(blocks)}\n")
    fake.chmod(0o755)
    cmd = verify.command(units, [], marker=str(tmp_path / "nope")).replace(
        "if [ -d /run/systemd/system ]", "if true"
    )
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin"}
    out = subprocess.run(["sh", "-c", cmd], capture_output=True, text=True, env=env, check=True).stdout
    seen = verify.parse(out, units, [], host="h")
    assert [seen.units[u] for u in units] == answers


def test_a_systemctl_that_answers_nothing_leaves_every_unit_unknown(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "systemctl").write_text("#!/bin/sh\nexit 1\n")
    (bin_dir / "systemctl").chmod(0o755)
    cmd = verify.command(UNITS, [], marker=str(tmp_path / "nope")).replace(
        "if [ -d /run/systemd/system ]", "if true"
    )
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin"}
    out = subprocess.run(["sh", "-c", cmd], capture_output=True, text=True, env=env, check=True).stdout
    assert verify.parse(out, UNITS, [], host="h").units == {u: ("unknown", "unknown") for u in UNITS}


def test_command_reports_a_missing_marker(tmp_path):
    cmd = verify.command([], [], marker=str(tmp_path / "nope"))
    out = subprocess.run(["sh", "-c", cmd], capture_output=True, text=True, check=True).stdout
    assert verify.parse(out, [], [], host="h").marker is False


# ------------------------------------------------------------------------------------------- parser
def test_parse_reads_units_files_and_marker_and_ignores_noise_before_the_header():
    text = "Welcome to the host!\n" + _answer(
        "U 0 inactive disabled", "U 1 active enabled", f"F 0 {'a' * 64}", "F 1 -", "M 1"
    )
    seen = verify.parse(text, UNITS, ["/etc/a", "/etc/b"], host="h")
    assert seen.units == {
        "k3s-agent.service": ("inactive", "disabled"),
        "sealkit-lb.service": ("active", "enabled"),
    }
    assert seen.files == {"/etc/a": "a" * 64, "/etc/b": None}


@pytest.mark.parametrize(
    "lines, why",
    [
        (["U 0 active enabled", "U 1 active enabled", "F 0 -", "M 1", "F 0 -"], "answered twice"),
        (["U 0 active enabled", "U 1 active enabled", "F 5 -", "M 1"], "out of range"),
        (["U 0 active enabled", "U 1 active enabled", "F 0 " + "A" * 64, "M 1"], "unexpected line"),
        (["U 0 active enabled", "U 1 active enabled", "F 0 -", "M 1", "rm -rf /"], "unexpected line"),
        (["U 0 active enabled", "U 0 active enabled", "F 0 -", "M 1"], "unexpected unit line"),
        (["U 0 active enabled", "F 0 -", "M 1"], "no answer for sealkit-lb.service"),
        (["U 0 active enabled", "U 1 active enabled", "M 1"], "no answer for /etc/a"),
        (["U 0 active enabled", "U 1 active enabled", "F 0 -"], "no answer for the install marker"),
        (["U 0 active enabled", "U 1 active enabled", "F 0 -", "M 1", "M 0"], "unexpected line"),
        (["U 0 act1ve enabled", "U 1 active enabled", "F 0 -", "M 1"], "unexpected line"),
        (["U 0 active enabled extra", "U 1 active enabled", "F 0 -", "M 1"], "unexpected line"),
        (["U 0 active enabled", "U 1 active enabled", "F 0 -\r", "M 1"], "unexpected line"),
    ],
)
def test_parse_refuses_hostile_or_broken_answers(lines, why):
    with pytest.raises(StepFailed) as err:
        verify.parse(_answer(*lines), UNITS, ["/etc/a"], host="10.0.0.7")
    assert why in err.value.message
    assert err.value.host == "10.0.0.7" and err.value.step == "verify"


@pytest.mark.parametrize(
    "text, why",
    [
        ("", "no verification header"),
        (f"{verify.HEADER}\nsystemd\nM 1\n", "ends before"),
        (f"{verify.HEADER}\nmaybe\nM 1\n{verify.END}\n", "whether systemd runs"),
        (f"{verify.HEADER}\nnosystemd\nU 0 active enabled\nM 1\n{verify.END}\n", "unexpected unit line"),
        (verify.HEADER + "\n" + "x" * verify.MAX_OUTPUT, "more than"),
    ],
)
def test_parse_refuses_a_truncated_or_flooded_answer(text, why):
    with pytest.raises(StepFailed) as err:
        verify.parse(text, ["u.service"], [], host="h")
    assert why in err.value.message


def test_without_systemd_units_are_not_asked_for():
    seen = verify.parse(_answer("M 1", systemd=False), UNITS, [], host="h")
    assert seen.systemd is False and seen.units == {}


# ------------------------------------------------------------------------------------------- judging
CONFIG = b"server: https://10.0.0.1:6443\n"
EXPECT = Expectations(
    units=("k3s-agent.service",),
    files=(ExpectedFile("/etc/rancher/k3s/config.yaml", CONFIG, 0o600, ("k3s-agent.service",)),),
)


def _seen(digest: str | None, active: str = "active", enabled: str = "enabled", marker: bool = True):
    return verify.Observed(
        systemd=True,
        units={"k3s-agent.service": (active, enabled)},
        files={"/etc/rancher/k3s/config.yaml": digest},
        marker=marker,
    )


def test_a_host_as_sealkit_left_it_has_no_drift():
    verdict = verify.judge("h", EXPECT, {"/etc/rancher/k3s/config.yaml": _sha(CONFIG)}, _seen(_sha(CONFIG)))
    assert verdict.drift == []
    assert verdict.record == {"/etc/rancher/k3s/config.yaml": _sha(CONFIG)}


def test_a_stopped_unit_and_a_deleted_file_are_repairable_drift():
    verdict = verify.judge(
        "h", EXPECT, {"/etc/rancher/k3s/config.yaml": _sha(CONFIG)}, _seen(None, "inactive", "disabled")
    )
    assert [(d.kind, d.found, d.repairable) for d in verdict.drift] == [
        ("file", "missing", True),
        ("unit", "inactive/disabled", True),
    ]


def test_a_file_rewritten_by_sealkit_since_the_record_is_not_drift():
    """e.g. ``cert --alt-names`` rewrote it: the host has what sealkit renders now."""
    verdict = verify.judge("h", EXPECT, {"/etc/rancher/k3s/config.yaml": "0" * 64}, _seen(_sha(CONFIG)))
    assert verdict.drift == [] and verdict.record["/etc/rancher/k3s/config.yaml"] == _sha(CONFIG)


def test_a_file_whose_rendering_changed_since_it_was_written_is_reported_not_overwritten():
    """The host's context moved on (say, the first master changed): the recorded digest and today's
    rendering differ, so rewriting it would be a guess."""
    recorded = "1" * 64
    verdict = verify.judge("h", EXPECT, {"/etc/rancher/k3s/config.yaml": recorded}, _seen("2" * 64))
    (drift,) = verdict.drift
    assert (drift.kind, drift.found, drift.repairable) == ("file", "changed", False)
    assert "/etc/rancher/k3s/config.yaml" in drift.fix
    assert verdict.record["/etc/rancher/k3s/config.yaml"] == recorded


def test_a_masked_unit_is_reported_with_the_fix_not_restarted():
    verdict = verify.judge("h", EXPECT, {}, _seen(_sha(CONFIG), "inactive", "masked"))
    (drift,) = verdict.drift
    assert not drift.repairable and "systemctl unmask k3s-agent.service" in drift.fix


def test_a_starting_unit_is_left_alone_and_a_missing_marker_is_drift():
    verdict = verify.judge("h", EXPECT, {}, _seen(_sha(CONFIG), "activating", "enabled", marker=False))
    assert [(d.kind, d.repairable) for d in verdict.drift] == [("marker", True)]


def test_without_systemd_units_are_not_judged():
    seen = verify.Observed(systemd=False, units={}, files={"/etc/rancher/k3s/config.yaml": None}, marker=True)
    verdict = verify.judge("h", EXPECT, {}, seen)
    assert [d.kind for d in verdict.drift] == ["file"]


def test_merge_joins_restarts_and_refuses_two_contents_for_one_path():
    a = Expectations(units=("a",), files=(ExpectedFile("/f", b"x", 0o600, ("a",)),))
    b = Expectations(units=("a", "b"), files=(ExpectedFile("/f", b"x", 0o644, ("b",)),))
    merged = verify.merge([a, b], host="h")
    assert merged.units == ("a", "b")
    assert merged.files[0].restarts == ("a", "b") and merged.files[0].mode == 0o600
    with pytest.raises(PluginError):
        verify.merge([a, Expectations(files=(ExpectedFile("/f", b"y"),))], host="h")


# ------------------------------------------------------------------------------------------ repair
class _Conn:
    def __init__(self) -> None:
        self.cmds: list[str] = []
        self.puts: list[tuple[str, bytes, int]] = []

    def run(self, cmd, **kw):
        self.cmds.append(cmd)
        return subprocess.CompletedProcess(cmd, 0, "", "")

    def put(self, data, path, mode=0o644, **kw):
        self.puts.append((path, data, mode))
        return True


class _Host:
    ip = "10.0.0.5"

    def __init__(self) -> None:
        self.conn = _Conn()


def test_repair_rewrites_the_file_then_restarts_its_unit_and_says_so(monkeypatch):
    restarted: list[str] = []
    monkeypatch.setattr(verify.hostops, "start_or_restart", lambda host, unit, **kw: restarted.append(unit))
    verdict = verify.judge("10.0.0.5", EXPECT, {}, _seen(None, "inactive", "enabled"))
    host = _Host()
    heard: list[str] = []
    record = verify.repair(host, verdict, lambda ip, what: heard.append(what))
    assert host.conn.puts == [("/etc/rancher/k3s/config.yaml", CONFIG, 0o600)]
    assert restarted == ["k3s-agent.service"]
    assert heard == [
        "file /etc/rancher/k3s/config.yaml missing → rewritten",
        "unit k3s-agent.service inactive → restarted",
    ]
    assert record == {"/etc/rancher/k3s/config.yaml": _sha(CONFIG)}
