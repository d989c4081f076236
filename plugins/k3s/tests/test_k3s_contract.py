"""k3s passes the runtime contract every plugin passes (sealkit.testing.contract)."""

from sealkit.testing.contract import SAMPLE_KUBECONFIG, RuntimeContract
from sealkit.testing.recording import RecordingConnection


class TestK3sContract(RuntimeContract):
    runtime_name = "k3s"

    def script_host(self, conn: RecordingConnection) -> None:
        """A healthy k3s host: `k3s --version` and the kubeconfig k3s writes."""
        conn.answer(r"k3s --version$", 0, "k3s version v1.30.4+k3s1 (98262b5d)\ngo version go1.22.5\n")
        conn.answer(r"^cat /etc/rancher/k3s/k3s\.yaml$", 0, SAMPLE_KUBECONFIG)
