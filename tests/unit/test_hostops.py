"""hostops: starting units, with and without waiting out systemd's own restarts."""

from __future__ import annotations

import pytest

from sealkit import hostops
from sealkit.context import RuntimeInfo
from sealkit.errors import StepFailed
from sealkit.hookspecs import hookimpl
from sealkit.testing.fixtures import make_context


class _Runtime:
    @hookimpl
    def sealkit_runtime_info(self) -> RuntimeInfo:
        return RuntimeInfo(name="test")


@pytest.fixture
def host(tmp_path):
    return make_context(_Runtime(), masters=["10.0.0.1"], state_dir=tmp_path).first_master


def test_unchanged_unit_is_started_and_a_changed_one_restarted(host):
    hostops.start_or_restart(host, "a.service", changed=False)
    hostops.start_or_restart(host, "b.service", changed=True)
    assert host.conn.commands == [
        "systemctl enable a.service",
        "systemctl start a.service",
        "systemctl enable b.service",
        "systemctl restart b.service",
    ]


def test_a_failed_start_fails_unless_restarts_are_waited_out(host):
    host.conn.answer(r"^systemctl restart", 1)
    with pytest.raises(StepFailed):
        hostops.start_or_restart(host, "k.service", changed=True)
    host.conn.commands.clear()
    hostops.start_or_restart(host, "k.service", changed=True, wait_out_restarts=True)
    assert host.conn.commands[-1] == "systemctl is-active -q k.service"


def test_a_unit_that_never_comes_up_is_reported_with_its_last_log_lines(host):
    host.conn.answer(r"^systemctl (restart|is-active)", 1)
    host.conn.answer(r"^journalctl -u k.service", 0, "etcdserver: unhealthy cluster\n")
    with pytest.raises(StepFailed) as err:
        hostops.start_or_restart(host, "k.service", changed=True, timeout=0, wait_out_restarts=True)
    assert "unhealthy cluster" in err.value.message and err.value.host == "10.0.0.1"


def test_an_etcd_member_removal_is_retried_until_the_member_is_gone(host, monkeypatch):
    import subprocess

    monkeypatch.setattr(hostops.time, "sleep", lambda _s: None)
    tries = []

    def etcd(cmd: str) -> tuple[int, str]:
        # the retried line is real shell: run it against a scripted etcdctl that refuses twice
        tries.append(cmd)
        ok = f"[ {len(tries)} -ge 3 ]"
        member = "8e9e05c52164694d, started, m1, https://10.0.0.1:2380, https://10.0.0.1:2379, false"
        script = f'etcdctl() {{ if [ "$2" = remove ]; then {ok}; else echo "{member}"; {ok}; fi; }}; '

        return subprocess.run(["sh", "-c", script + cmd], check=False).returncode, ""

    host.conn.responses.append(("member remove", etcd))
    hostops.remove_etcd_member(host, "etcdctl", "abc123")
    assert len(tries) == 3
    assert all("etcdctl member remove abc123" in c for c in tries)
