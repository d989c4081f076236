"""Lab tests of the embedded registry (sealkit.registry): real registry, real containerd."""
