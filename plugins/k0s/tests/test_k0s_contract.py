"""k0s passes the runtime contract every plugin passes."""

from sealkit.testing.contract import RuntimeContract


class TestK0sContract(RuntimeContract):
    runtime_name = "k0s"
