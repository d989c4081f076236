"""k0s passes the runtime contract every plugin passes (sealkit.testing.contract)."""

from sealkit.testing.contract import SAMPLE_KUBECONFIG, RuntimeContract
from sealkit.testing.recording import RecordingConnection


class TestK0sContract(RuntimeContract):
    runtime_name = "k0s"

    def script_host(self, conn: RecordingConnection) -> None:
        """A healthy k0s host: `k0s version` and the admin kubeconfig `k0s kubeconfig admin` prints."""
        conn.answer(r"k0s version$", 0, "v1.30.4+k0s.0\n")
        conn.answer(r"k0s kubeconfig admin$", 0, SAMPLE_KUBECONFIG)
