"""Lab tests of the node-local apiserver load balancer (sealkit.ha) on real systemd lab hosts."""
