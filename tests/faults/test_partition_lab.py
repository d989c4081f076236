"""A real network partition of a lab host (its cable unplugged at the bridge: packets lost, no RST) while
sealkit holds a connection to it (issue 18 item 4b).

Old code: the next channel got no answer within the connect timeout and the run failed with "the host
refused a new session; lower concurrency or raise MaxSessions". Now the silent transport is retired, the
host re-dialled with backoff, and the command runs once the link is back; a partition longer than the
reconnect window ends with an honest "connection … lost and not back within …" instead.

A command already running when the link goes silent used to wait for its exit status until TCP gave up
(about 15 minutes): a partition during an upgrade step hung the run. Now a command silent for ``keepalive``
seconds has its link asked for an answer (an OpenSSH keepalive request, answered by this real sshd); none
within the connect timeout ends it as "connection lost", and it is not run again unless idempotent.

Duration: about 30 s (a one-host lab, an 8 s partition, a 2 s window that runs out, then a cut under a
running command).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from sealkit.errors import ConnectError
from sealkit.ssh import HostKeyPolicy, Target
from sealkit.ssh.connection import CommandFailed
from sealkit.ssh.fleet import Fleet

pytestmark = pytest.mark.lab

PARTITION = 8.0


def _fleet(host, tmp_path, **kw) -> Fleet:
    return Fleet(
        [Target(host.ip, port=host.port, key_path=str(host.root_key))],
        hostkeys=HostKeyPolicy(tmp_path / "known_hosts", user_known_hosts=None),
        ssh_config=tmp_path / "no-ssh-config",
        connect_timeout=3,
        **kw,
    )


def test_a_partitioned_host_is_reconnected_and_the_idempotent_probe_retried(fresh_hosts, tmp_path):
    hosts = fresh_hosts(1)
    lab, host = hosts.lab, hosts[0]
    (tmp_path / "no-ssh-config").write_text("")
    with _fleet(host, tmp_path) as fleet:
        conn = fleet.conn(host.ip)
        assert conn.run("cat /etc/hostname", idempotent=True).stdout.strip() == host.hostname

        lab.cut(host)
        healer = threading.Timer(PARTITION, lab.restore, args=(host,))
        healer.start()
        try:
            started = time.monotonic()
            results = fleet.run("cat /etc/hostname", idempotent=True)
            took = time.monotonic() - started
        finally:
            healer.join()
        res = results[host.ip]
        assert not isinstance(res, BaseException), res
        assert res.stdout.strip() == host.hostname
        assert conn.reconnects == 1
        assert PARTITION - 1 < took < PARTITION + 20, took  # waited for the link, within the window

        # longer than the window: an honest message naming the host, never MaxSessions
        short = _fleet(host, tmp_path, reconnect_window=2.0)
        try:
            c2 = short.conn(host.ip)
            c2.run("true")
            lab.cut(host)
            started = time.monotonic()
            with pytest.raises(ConnectError) as exc:
                c2.run("true", idempotent=True)
            took = time.monotonic() - started
        finally:
            lab.restore(host)
            short.close()
        assert f"connection to {host.ip} lost and not back within 2s" in exc.value.message
        assert "MaxSessions" not in str(exc.value)
        assert took < 3 + 2 + 3 + 2, took  # channel-open timeout + window + one dial + backoff slack

        # a link that goes silent under a running command: found by the keepalive probe in seconds
        quick = _fleet(host, tmp_path, keepalive=2)
        try:
            c3 = quick.conn(host.ip)
            assert c3.run("sleep 5").ok  # silent for longer than keepalive, on a live link: left to finish
            with ThreadPoolExecutor(1) as pool:
                running = pool.submit(c3.run, "sleep 60")
                time.sleep(1)
                lab.cut(host)
                started = time.monotonic()
                with pytest.raises(CommandFailed) as lost:
                    running.result(timeout=30)
                took = time.monotonic() - started
        finally:
            lab.restore(host)
            quick.close()
        assert lost.value.message.startswith("connection lost while running"), lost.value.message
        assert f"connection to {host.ip} lost during" in (lost.value.hint or "")
        assert took < 1 + 2 + 3 + 3, took  # the rest of a keepalive interval, one unanswered probe, slack
