"""sealkit runtime plugin for k3s."""
