"""sealkit runtime plugin for kubeadm."""
