"""Issue 14, item 4: a worker's hostname reaches a root shell on the first master in every runtime's
``test_node_registered`` check; it must arrive there as one quoted word, whatever the host reported."""

from __future__ import annotations

import importlib
import shlex
from types import SimpleNamespace

import pytest

CHECK_MODULES = [
    "sealkit_k3s.checks.k3s_host_checks",
    "sealkit_k0s.checks.k0s_host_checks",
    "sealkit_binary.checks.binary_host_checks",
    "sealkit_kubeadm.checks.kubeadm_host_checks",
]
HOSTILE = "w1;touch /tmp/pwned $(id)"


class _Conn:
    def __init__(self) -> None:
        self.commands: list[str] = []

    def run(self, cmd: str, **_kw: object) -> SimpleNamespace:
        self.commands.append(cmd)
        return SimpleNamespace(rc=0, stdout="node/x\n", stderr="")


@pytest.mark.parametrize("module", CHECK_MODULES)
def test_node_name_reaches_the_master_as_one_quoted_word(module: str) -> None:
    mod = importlib.import_module(module)
    conn = _Conn()
    master = SimpleNamespace(ip="10.0.0.1", conn=conn, facts={})
    ctx = SimpleNamespace(first_master=master, masters=[master], runtime=SimpleNamespace(apiserver_port=6443))
    worker = SimpleNamespace(name=HOSTILE, ip="10.0.0.2", is_master=False)
    kwargs = {"sealkit_host": worker, "sealkit_ctx": ctx}
    if (
        "host"
        in mod.test_node_registered.__code__.co_varnames[: mod.test_node_registered.__code__.co_argcount]
    ):
        kwargs["host"] = None
    mod.test_node_registered(**kwargs)
    (cmd,) = conn.commands
    words = shlex.split(cmd)
    assert HOSTILE in words, cmd  # one argument: the shell never sees ';' or '$(' as syntax
    assert words[words.index(HOSTILE) - 1] == "node"
