"""kubeadm passes the runtime contract every plugin passes."""

from sealkit.testing.contract import RuntimeContract


class TestKubeadmContract(RuntimeContract):
    runtime_name = "kubeadm"
