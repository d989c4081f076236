"""sealkit CONTRACT FAKES of Kubernetes tools for tests only (sealkit-contract-fake); never shipped."""
