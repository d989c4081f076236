"""The binary runtime passes the runtime contract every plugin passes (sealkit.testing.contract)."""

from __future__ import annotations

import re
from dataclasses import replace

from sealkit_binary import plugin as binary

from sealkit.testing.contract import SAMPLE_KUBECONFIG, RuntimeContract
from sealkit.testing.recording import RecordingConnection


class Etcd:
    """etcdctl's view of one cluster shared by every host of a test: members added as learners,
    promoted, started when their unit starts, removed (the answers the plugin's commands expect)."""

    def __init__(self) -> None:
        self.members: list[binary.Member] = []
        self.next_id = 0x100
        self.names: dict[str, str] = {}  # peer URL -> the name `member add` gave; set when it starts

    def answer(self, cmd: str) -> tuple[int, str]:
        if m := re.search(r"member promote ([0-9a-f]+)", cmd):
            self.members = [replace(x, learner=False) if x.id == m.group(1) else x for x in self.members]
            return 0, ""
        if m := re.search(r"member add (\S+) --peer-urls=(\S+) --learner", cmd):
            self.members.append(binary.Member(f"{self.next_id:x}", False, "", (m.group(2),), (), True))
            self.names[m.group(2)] = m.group(1)
            self.next_id += 1
            return 0, f"Member {self.next_id - 1:x} added\n"
        if m := re.search(r"member remove ([0-9a-f]+)", cmd):
            self.members = [x for x in self.members if x.id != m.group(1)]
            return 0, ""
        if "member list" in cmd:
            return 0, "".join(
                f"{x.id}, {'started' if x.started else 'unstarted'}, {x.name}, "
                f"{','.join(x.peer_urls)}, {','.join(x.client_urls)}, {str(x.learner).lower()}\n"
                for x in self.members
            )
        return 0, ""

    def start(self, ip: str) -> tuple[int, str]:
        url = binary.peer_url(ip)
        if not any(url in x.peer_urls for x in self.members):  # the first member bootstraps the cluster
            self.members.append(binary.Member(f"{self.next_id:x}", True, ip, (url,), (), False))
            self.next_id += 1
        name = self.names.get(url, ip)
        self.members = [
            replace(x, started=True, name=name) if url in x.peer_urls else x for x in self.members
        ]
        return 0, ""


class TestBinaryContract(RuntimeContract):
    runtime_name = "binary"

    def script_host(self, conn: RecordingConnection) -> None:
        """A healthy host: the host's containerd, kubelet's version, admin.conf, one etcd cluster."""
        etcd = self.__dict__.setdefault("_etcd", Etcd())
        conn.answer(r"command -v containerd", 0, "host=/usr/bin/containerd\n")
        conn.answer(r"/usr/bin/containerd --version", 0, "containerd x 1.6.20~ds1 y\n")
        conn.answer(r"kubelet --version$", 0, "Kubernetes v1.30.4\n")
        conn.answer(r"^cat /etc/kubernetes/admin\.conf$", 0, SAMPLE_KUBECONFIG)
        conn.responses.insert(0, (r"etcdctl .*member ", etcd.answer))
        conn.responses.insert(
            0, (r"systemctl (start|restart) kube-etcd\.service", lambda cmd, ip=conn.address: etcd.start(ip))
        )
