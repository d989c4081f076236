"""sealkit runtime plugin for binary."""
