"""kubeadm passes the runtime contract every plugin passes (sealkit.testing.contract)."""

import itertools

from sealkit.testing.contract import SAMPLE_KUBECONFIG, RuntimeContract
from sealkit.testing.recording import RecordingConnection


class TestKubeadmContract(RuntimeContract):
    runtime_name = "kubeadm"

    def script_host(self, conn: RecordingConnection) -> None:
        """A healthy kubeadm host: containerd and kubelet versions, a fresh token per `kubeadm token
        create` (it refuses an existing id), and admin.conf."""
        made = (f"join{n:02d}.{n:016d}" for n in itertools.count())
        conn.answer(r"containerd --version$", 0, "containerd containerd.io 1.7.13 7c3aca7\n")
        conn.answer(r"kubelet --version$", 0, "Kubernetes v1.30.4\n")
        conn.responses.append((r"kubeadm token create ", lambda cmd: (0, next(made) + "\n")))
        conn.answer(r"^cat /etc/kubernetes/admin\.conf$", 0, SAMPLE_KUBECONFIG)
