"""Node-local load balancing in front of every kube-apiserver (the HA endpoint workers use).

kubeadm ships no load balancer for several masters. Like sealos' lvscare (IPVS) and kubespray's
localhost nginx/haproxy, sealkit gives every worker its own LB bound to a VIP on ``lo`` (default
``10.103.97.2:6443``), so there is no single LB machine to lose. Strategies:

* ``haproxy`` (default): :mod:`sealkit.ha.haproxy` — a systemd unit, health checks on ``/healthz``;
* ``ipvs``: :mod:`sealkit.ha.ipvs` — lvscare-style kernel rules kept in sync by a health-check loop;
* ``native``: the runtime's own client-side LB (k3s agent, k0s NLLB) — sealkit only answers the
  endpoint.

Renderers are pure (data in, bytes out) and unit-tested; :mod:`sealkit.ha.apply` holds the few
remote commands, planned by pure functions so the exact commands are asserted in tests.
"""

from __future__ import annotations

DEFAULT_VIP = "10.103.97.2"
DEFAULT_PORT = 6443
STRATEGIES = ("haproxy", "ipvs", "native")

#: where every strategy keeps its files on a host (removed whole by reset)
LB_DIR = "/etc/sealkit/lb"
SYSTEMD_DIR = "/etc/systemd/system"
