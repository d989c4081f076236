"""k3s passes the runtime contract every plugin passes."""

from sealkit.testing.contract import RuntimeContract


class TestK3sContract(RuntimeContract):
    runtime_name = "k3s"
