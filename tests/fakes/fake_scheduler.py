"""The kube-scheduler CONTRACT FAKE's scheduling pass (sealkit-contract-fake): never ship this.

Binds pending pods (schedulerName default-scheduler, no nodeName) to nodes through the
pods/binding subresource, as the real scheduler does. Filters follow the default plugins of
kubernetes/kubernetes v1.35.0 pkg/scheduler/framework/plugins:

Filters run in the default plugin order (pkg/scheduler/apis/config/v1/default_plugins.go), the
first failing one naming the node's reason; the message lists "<count> <reason>" sorted as strings
(FitError.Error in pkg/scheduler/framework/types.go), with the preemption postscript.

* NodeUnschedulable: `spec.unschedulable` nodes only for pods tolerating
  node.kubernetes.io/unschedulable:NoSchedule;
* NodeName / NodeAffinity: `spec.nodeSelector` and required node affinity (matchExpressions over
  labels, matchFields over metadata.name; In, NotIn, Exists, DoesNotExist, Gt, Lt);
* TaintToleration: NoSchedule and NoExecute taints must be tolerated (Equal/Exists, empty key
  with Exists tolerates everything);
* NodeResourcesFit: the sum of cpu/memory requests of the node's pods fits its allocatable;
* NodePorts: host ports must be free. Pods here share the node's network namespace (see
  fake_cri), so every containerPort counts as a host port, as it does for hostNetwork pods.

A node whose Ready condition is not True carries the not-ready/unreachable taints upstream;
here such nodes are filtered directly. Scoring prefers the node with the fewest pods. A pod no
node fits gets PodScheduled=False, reason Unschedulable, with upstream's message shape
"0/N nodes are available: …".
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

try:  # package import in sealkit's tests; sibling import when copied onto a host
    from . import fakelib
except ImportError:
    import fakelib  # type: ignore[no-redef]

_UNITS = {
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40,
    "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "m": 0.001, "": 1,
}  # fmt: skip


def quantity(value: Any) -> float:
    """resource.Quantity → a float (cpu in cores, memory in bytes)."""
    m = re.fullmatch(r"([0-9.]+)(Ki|Mi|Gi|Ti|k|M|G|T|m)?", str(value).strip())
    if not m:
        raise ValueError(f"quantities must match the regular expression: {value!r}")
    return float(m.group(1)) * _UNITS[m.group(2) or ""]


def tolerates(taint: dict[str, Any], tolerations: list[dict[str, Any]]) -> bool:
    for t in tolerations:
        if t.get("effect") and t.get("effect") != taint.get("effect"):
            continue
        op = t.get("operator", "Equal")
        if op == "Exists" and (not t.get("key") or t.get("key") == taint.get("key")):
            return True
        if (
            op == "Equal"
            and t.get("key") == taint.get("key")
            and t.get("value", "") == taint.get("value", "")
        ):
            return True
    return False


def taints_tolerated(
    node: dict[str, Any], tolerations: list[dict[str, Any]], effects: tuple[str, ...]
) -> tuple[bool, str]:
    for taint in node.get("spec", {}).get("taints") or []:
        if taint.get("effect") in effects and not tolerates(taint, tolerations):
            return False, f"{{{taint.get('key')}: {taint.get('value', '')}}}"
    return True, ""


def _expr_ok(expr: dict[str, Any], value: str | None) -> bool:
    op, vals = expr.get("operator"), expr.get("values") or []
    if op == "In":
        return value in vals
    if op == "NotIn":
        return value not in vals
    if op == "Exists":
        return value is not None
    if op == "DoesNotExist":
        return value is None
    if op in ("Gt", "Lt") and value is not None and vals:
        try:
            return int(value) > int(vals[0]) if op == "Gt" else int(value) < int(vals[0])
        except ValueError:
            return False
    return False


def node_selector_ok(pod_spec: dict[str, Any], node: dict[str, Any]) -> bool:
    labels = node.get("metadata", {}).get("labels") or {}
    for k, v in (pod_spec.get("nodeSelector") or {}).items():
        if labels.get(k) != v:
            return False
    required = (
        ((pod_spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
            "requiredDuringSchedulingIgnoredDuringExecution"
        )
        or {}
    ).get("nodeSelectorTerms")
    if not required:
        return True
    fields = {"metadata.name": node["metadata"]["name"]}
    for term in required:  # terms are ORed, expressions inside a term ANDed
        if all(_expr_ok(e, labels.get(e.get("key"))) for e in term.get("matchExpressions") or []) and all(
            _expr_ok(e, fields.get(e.get("key"))) for e in term.get("matchFields") or []
        ):
            return True
    return False


def pod_requests(pod: dict[str, Any]) -> dict[str, float]:
    out: Counter[str] = Counter()
    for c in pod.get("spec", {}).get("containers") or []:
        for k, v in ((c.get("resources") or {}).get("requests") or {}).items():
            if k in ("cpu", "memory"):
                out[k] += quantity(v)
    return dict(out)


def host_ports(pod: dict[str, Any]) -> set[tuple[int, str]]:
    return {
        (int(p.get("hostPort") or p["containerPort"]), p.get("protocol", "TCP"))
        for c in pod.get("spec", {}).get("containers") or []
        for p in c.get("ports") or []
        if p.get("containerPort")
    }


def node_ready(node: dict[str, Any]) -> bool:
    conds = node.get("status", {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds)


def filter_node(pod: dict[str, Any], node: dict[str, Any], on_node: list[dict[str, Any]]) -> str:
    """ "" when `pod` fits `node`, else the reason upstream's message counts."""
    spec = pod.get("spec") or {}
    tolerations = spec.get("tolerations") or []
    if not node_ready(node):
        return "node(s) had untolerated taint {node.kubernetes.io/not-ready: }"
    if node.get("spec", {}).get("unschedulable") and not tolerates(
        {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}, tolerations
    ):
        return "node(s) were unschedulable"
    ok, taint = taints_tolerated(node, tolerations, ("NoSchedule", "NoExecute"))
    if not ok:
        return f"node(s) had untolerated taint {taint}"
    if not node_selector_ok(spec, node):
        return "node(s) didn't match Pod's node affinity/selector"
    alloc = node.get("status", {}).get("allocatable") or node.get("status", {}).get("capacity") or {}
    want = pod_requests(pod)
    used: Counter[str] = Counter()
    for other in on_node:
        used.update(pod_requests(other))
    for res in ("cpu", "memory"):
        if res in want and res in alloc and used[res] + want[res] > quantity(alloc[res]):
            return f"Insufficient {res}"
    mine = host_ports(pod)
    if mine and any(mine & host_ports(o) for o in on_node):
        return "node(s) didn't have free ports for the requested pod ports"
    return ""


class Scheduler:
    """One scheduling pass over pending pods; call `run_pass` periodically."""

    def __init__(self, api: Any, name: str = "default-scheduler") -> None:
        self.api = api
        self.name = name

    def run_pass(self) -> None:
        pods = self.api.request("GET", "/api/v1/pods").get("items") or []
        nodes = self.api.request("GET", "/api/v1/nodes").get("items") or []
        placed: dict[str, list[dict[str, Any]]] = {n["metadata"]["name"]: [] for n in nodes}
        for p in pods:
            node = p.get("spec", {}).get("nodeName")
            if node in placed and p.get("status", {}).get("phase") not in ("Succeeded", "Failed"):
                placed[node].append(p)
        for pod in pods:
            spec = pod.get("spec") or {}
            if spec.get("nodeName") or spec.get("schedulerName", "default-scheduler") != self.name:
                continue
            if pod["metadata"].get("deletionTimestamp"):
                continue
            reasons: Counter[str] = Counter()
            fits = []
            for node in nodes:
                why = filter_node(pod, node, placed[node["metadata"]["name"]])
                if why:
                    reasons[why] += 1
                else:
                    fits.append(node)
            if not fits:
                self.unschedulable(pod, len(nodes), reasons)
                continue
            best = min(fits, key=lambda n: (len(placed[n["metadata"]["name"]]), n["metadata"]["name"]))
            ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
            target = best["metadata"]["name"]
            try:
                self.api.request(
                    "POST",
                    f"/api/v1/namespaces/{ns}/pods/{name}/binding",
                    {
                        "apiVersion": "v1",
                        "kind": "Binding",
                        "metadata": {"name": name, "namespace": ns},
                        "target": {"apiVersion": "v1", "kind": "Node", "name": target},
                    },
                )
            except fakelib.HTTPStatusError as exc:
                if exc.status not in (404, 409):
                    raise
                continue
            placed[target].append(pod)

    def unschedulable(self, pod: dict[str, Any], total: int, reasons: Counter[str]) -> None:
        detail = ", ".join(sorted(f"{n} {r}" for r, n in reasons.items()))
        message = (
            f"0/{total} nodes are available: {detail}. preemption: 0/{total} nodes are available: "
            f"{total} Preemption is not helpful for scheduling."
            if total
            else "no nodes available to schedule pods"
        )
        conds = pod.setdefault("status", {}).setdefault("conditions", [])
        old = next((c for c in conds if c.get("type") == "PodScheduled"), None)
        if old and old.get("message") == message:
            return
        conds[:] = [c for c in conds if c.get("type") != "PodScheduled"]
        conds.append(
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": message,
                "lastTransitionTime": fakelib.now_rfc3339(),
            }
        )
        pod["status"].setdefault("phase", "Pending")
        ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        try:
            self.api.request("PUT", f"/api/v1/namespaces/{ns}/pods/{name}/status", pod)
        except fakelib.HTTPStatusError as exc:
            if exc.status not in (404, 409):
                raise
