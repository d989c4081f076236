"""sealkit runtime plugin for k0s."""
