"""Ownership of /var/lib/etcd and /etc/cni/net.d in the binary runtime (issue 12 item 1): a foreign
etcd data dir (Debian's etcd keeps it in /var/lib/etcd/default, which the old `member` check missed)
or CNI config is refused in preflight; reset gives the recorded state back instead of clearing."""

from __future__ import annotations

import pytest
from sealkit_binary import plugin as binary

from sealkit import ownership
from sealkit.testing.fixtures import make_context

M1, W1 = "10.0.0.1", "10.0.0.3"


def _ctx(tmp_path, env=None):  # type: ignore[no-untyped-def]
    ctx = make_context(binary.Runtime(), masters=[M1], nodes=[W1], state_dir=tmp_path, runtime_name="binary")
    ctx.cluster.env.update(env or {})
    return ctx


@pytest.mark.parametrize("take_over", [False, True])
def test_preflight_refuses_debian_etcd_data_on_a_master(tmp_path, take_over) -> None:
    ctx = _ctx(tmp_path, {ownership.TAKE_OVER_ENV: binary.ETCD_DATA_DIR} if take_over else None)
    master = ctx.hosts[M1]
    # no /var/lib/etcd/member (the old check saw nothing), but /var/lib/etcd/default has data
    master.conn.answer(
        r"binary\.paths", 0, "swap=0\ntoken=\ncontainerd=/usr/bin/containerd\np0=full\np1=absent\n"
    )
    problems = binary.Runtime().sealkit_preflight(ctx=ctx, host=master)
    foreign = [p for p in problems if binary.ETCD_DATA_DIR in p and ownership.TAKE_OVER_ENV in p]
    assert foreign == [] if take_over else len(foreign) == 1, problems


def test_preflight_passes_a_host_sealkit_already_prepared(tmp_path) -> None:
    ctx = _ctx(tmp_path)
    worker = ctx.hosts[W1]
    worker.conn.answer(r"binary\.paths", 0, "swap=0\ncontainerd=/usr/bin/containerd\nrecord=1\np0=full\n")
    assert binary.Runtime().sealkit_preflight(ctx=ctx, host=worker) == []


def test_prepare_records_first_and_reset_gives_back_instead_of_clearing(tmp_path) -> None:
    ctx = _ctx(tmp_path)
    master = ctx.hosts[M1]
    master.conn.answer(r"command -v containerd", 0, "host=/usr/bin/containerd\n")
    master.conn.answer(r"/usr/bin/containerd --version", 0, "containerd x 1.6.20~ds1 y\n")
    binary.Runtime().sealkit_prepare_host(ctx=ctx, host=master)
    assert ownership.record_path("binary") in master.conn.commands[0]  # before any other change
    master.conn.commands.clear()
    master.conn.answer(r"^cat /var/lib/sealkit/prior/binary\.paths", 0, "p0=empty 700 0 0\np1=absent\n")
    binary.Runtime().sealkit_reset_host(ctx=ctx, host=master)
    joined = "\n".join(master.conn.commands)
    assert f"find {binary.ETCD_DATA_DIR} -mindepth 1 -delete && chmod 700 {binary.ETCD_DATA_DIR}" in joined
    assert "for p in /etc/cni/net.d; do" in joined  # it did not exist before: removed


def test_reset_gives_the_cni_dir_back_before_removing_empty_parents(tmp_path) -> None:
    ctx = _ctx(tmp_path)
    host = ctx.hosts[W1]
    host.conn.answer(r"^cat /var/lib/sealkit/prior/binary\.paths", 0, "p0=absent\n")
    binary.Runtime().sealkit_reset_host(ctx=ctx, host=host)
    cmds = host.conn.commands
    gone = [i for i, c in enumerate(cmds) if c.startswith("for p in /etc/cni/net.d; do")]
    parents = [i for i, c in enumerate(cmds) if "for d in /etc/cni " in c]
    assert len(gone) == 1 and len(parents) == 1 and gone[0] < parents[0]
