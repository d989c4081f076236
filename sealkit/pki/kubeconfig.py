"""Render a kubeconfig with embedded CA and client certificate, byte-for-byte deterministic.

Deterministic output matters: the engine writes files content-addressed, so a re-run that renders
the same kubeconfig must not touch the host.
"""

from __future__ import annotations

import base64

import yaml


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def render_kubeconfig(
    *,
    server: str,
    ca_pem: bytes,
    cert_pem: bytes,
    key_pem: bytes,
    user: str,
    cluster_name: str = "kubernetes",
    context: str = "",
) -> str:
    """A ``kind: Config`` with one cluster, one user, one context — the shape kubeadm writes."""
    context = context or f"{user}@{cluster_name}"
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": cluster_name,
                "cluster": {"certificate-authority-data": _b64(ca_pem), "server": server},
            }
        ],
        "contexts": [{"name": context, "context": {"cluster": cluster_name, "user": user}}],
        "current-context": context,
        "preferences": {},
        "users": [
            {
                "name": user,
                "user": {
                    "client-certificate-data": _b64(cert_pem),
                    "client-key-data": _b64(key_pem),
                },
            }
        ],
    }
    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=False, width=1 << 16)


def name_after_cluster(text: str, cluster: str) -> str:
    """The same kubeconfig with its cluster, user and context named after the sealkit cluster.

    Runtimes name them ``default`` (k3s), ``kubernetes-admin@kubernetes`` (kubeadm) or ``k0s``: two clusters'
    kubeconfigs merged with ``KUBECONFIG=a:b`` would collide. Here the cluster entry and the context are
    called ``<cluster>`` and the user ``<cluster>-admin`` (a second entry of a kind gets ``-2``, ``-3``);
    every reference is rewritten with them. Anything else in the file is kept as it is.
    """
    doc = yaml.safe_load(text)
    if not isinstance(doc, dict) or doc.get("kind") != "Config":
        raise ValueError("not a kubeconfig (kind: Config)")
    renames: dict[str, dict[str, str]] = {}
    for key, base in (("clusters", cluster), ("users", f"{cluster}-admin"), ("contexts", cluster)):
        entries = [e for e in doc.get(key) or [] if isinstance(e, dict) and isinstance(e.get("name"), str)]
        renames[key] = {}
        for i, entry in enumerate(entries):
            new = base if i == 0 else f"{base}-{i + 1}"
            renames[key][entry["name"]] = new
            entry["name"] = new
    for entry in doc.get("contexts") or []:
        ctx = entry.get("context") if isinstance(entry, dict) else None
        if isinstance(ctx, dict):
            if ctx.get("cluster") in renames["clusters"]:
                ctx["cluster"] = renames["clusters"][ctx["cluster"]]
            if ctx.get("user") in renames["users"]:
                ctx["user"] = renames["users"][ctx["user"]]
    current = doc.get("current-context")
    if current in renames["contexts"]:
        doc["current-context"] = renames["contexts"][current]
    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=False, width=1 << 16)
