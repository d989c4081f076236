"""The embedded registry: a Distribution registry on the registry hosts, the images of the cluster
image synced into it by digest, and the mirror config that makes pulls of ORIGINAL image names
(``docker.io/library/busybox:1.36``) come from it — so an offline install never reaches for the
internet.

Modules: :mod:`.service` (the registry on its hosts), :mod:`.hosts` (stable name + CA on every
host), :mod:`.sync` (OCI layout → registry), :mod:`.mirrors` (pure renderers for containerd, k3s,
k0s), :mod:`.plugin` (the built-in plugin wiring them to the hooks).
"""

from __future__ import annotations

#: stable name every host resolves to the registry host (``/etc/hosts`` block)
DEFAULT_DOMAIN = "sealkit.hub"
DEFAULT_PORT = 5000
#: where the cluster CA the runtimes trust for the registry is installed on every host
REGISTRY_CA_PATH = "/etc/sealkit/registry-ca.crt"
