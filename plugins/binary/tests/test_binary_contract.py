"""The binary runtime passes the runtime contract every plugin passes."""

from sealkit.testing.contract import RuntimeContract


class TestBinaryContract(RuntimeContract):
    runtime_name = "binary"
