"""Workload controllers of the kube-controller-manager CONTRACT FAKE (sealkit-contract-fake).

Never shipped. Turns Deployments, ReplicaSets, StatefulSets, DaemonSets and Jobs into Pods, keeps
Endpoints of Services, and garbage-collects objects whose owners are gone, all through the API
like the real controllers (so several masters can share one etcd; only the holder of the
kube-system/kube-controller-manager Lease acts). Upstream behaviour followed
(kubernetes/kubernetes v1.35.0):

* pkg/controller/deployment: one ReplicaSet per pod template, named `<deploy>-<pod-template-hash>`
  and labelled with that hash; status replicas/updated/ready/available, observedGeneration and
  the Available / Progressing (NewReplicaSetAvailable) conditions helm and kstatus wait for.
  Deviation: old ReplicaSets are scaled to 0 at once (Recreate-like), because pods share their
  node's network namespace and a surge pod could not bind its port next to the old one.
* pkg/controller/replicaset: pods `<rs>-<5 random chars>` with a controller ownerReference,
  surplus pods deleted (unscheduled and not-ready ones first).
* pkg/controller/statefulset: pods `<sts>-<ordinal>`, OrderedReady: ordinal i+1 waits for i Ready.
* pkg/controller/daemon: one pod per eligible node, pinned by a required node affinity on
  `metadata.name` (scheduled by the scheduler), with the daemon tolerations of
  pkg/controller/daemon/util (not-ready, unreachable, unschedulable, disk/memory/pid-pressure).
* pkg/controller/job: pods until `completions` succeeded, `backoffLimit` failed pods → Failed
  condition (BackoffLimitExceeded), Complete condition with completionTime.
* pkg/controller/endpoint: Endpoints with ready pods in `addresses`, others in
  `notReadyAddresses`, named target ports resolved against the container ports.
* pkg/controller/garbagecollector: a dependent whose owners (by uid) are all gone is deleted
  (background propagation).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

try:  # package import in sealkit's tests; sibling import when copied onto a host
    from . import fake_scheduler, fakelib
except ImportError:
    import fake_scheduler  # type: ignore[no-redef]
    import fakelib  # type: ignore[no-redef]

FAKE_MARK = fakelib.FAKE_MARK

DAEMON_TOLERATIONS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
]

# resources a dependent may live in, as (API prefix, plural); the GC looks at these
GC_RESOURCES = (
    ("/api/v1", "pods"),
    ("/apis/apps/v1", "replicasets"),
    ("/apis/apps/v1", "controllerrevisions"),
    ("/apis/batch/v1", "jobs"),
    ("/api/v1", "endpoints"),
    ("/api/v1", "configmaps"),
    ("/api/v1", "secrets"),
    ("/api/v1", "services"),
    ("/api/v1", "persistentvolumeclaims"),
)
OWNER_PATHS = {
    "Deployment": ("/apis/apps/v1", "deployments"),
    "ReplicaSet": ("/apis/apps/v1", "replicasets"),
    "StatefulSet": ("/apis/apps/v1", "statefulsets"),
    "DaemonSet": ("/apis/apps/v1", "daemonsets"),
    "Job": ("/apis/batch/v1", "jobs"),
    "Pod": ("/api/v1", "pods"),
    "Service": ("/api/v1", "services"),
    "ConfigMap": ("/api/v1", "configmaps"),
    "Secret": ("/api/v1", "secrets"),
}


class Api(Protocol):
    """What the controllers need of a client (fakelib.KubeClient satisfies it)."""

    def request(
        self, method: str, path: str, obj: Any = None, content_type: str = ..., ok: Any = ...
    ) -> Any: ...


def is_missing(exc: Exception) -> bool:
    return isinstance(exc, fakelib.HTTPStatusError) and exc.status == 404


def pod_ready(pod: dict[str, Any]) -> bool:
    conds = pod.get("status", {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds)


def pod_active(pod: dict[str, Any]) -> bool:
    return pod.get("status", {}).get("phase") not in ("Succeeded", "Failed") and not pod.get(
        "metadata", {}
    ).get("deletionTimestamp")


def selector_matches(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """metav1.LabelSelector (matchLabels + matchExpressions In/NotIn/Exists/DoesNotExist)."""
    if not selector:
        return False
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in selector.get("matchExpressions") or []:
        key, op, vals = e.get("key"), e.get("operator"), e.get("values") or []
        if op == "In" and labels.get(key) not in vals:
            return False
        if op == "NotIn" and key in labels and labels[key] in vals:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def template_hash(template: dict[str, Any], collision: int = 0) -> str:
    """A stable pod-template-hash (upstream: fnv32a of the template, safe-encoded); any stable
    hash of the template serves the same contract: equal templates share a ReplicaSet."""
    digest = hashlib.sha256(
        json.dumps(template, sort_keys=True).encode() + str(collision).encode()
    ).hexdigest()
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    n = int(digest[:16], 16)
    out = ""
    for _ in range(10):
        n, rem = divmod(n, len(alphabet))
        out += alphabet[rem]
    return out


def owner_ref(owner: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def owned_by(obj: dict[str, Any], owner: dict[str, Any]) -> bool:
    uid = owner["metadata"]["uid"]
    return any(r.get("uid") == uid for r in obj.get("metadata", {}).get("ownerReferences") or [])


def random_suffix() -> str:
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    return "".join(secrets.choice(alphabet) for _ in range(5))


@dataclass
class LeaderLease:
    """coordination.k8s.io Lease leader election (client-go tools/leaderelection): acquire when
    free or expired, renew while held; compare-and-swap on resourceVersion."""

    api: Api
    name: str
    namespace: str = "kube-system"
    duration: int = 15
    identity: str = field(default_factory=lambda: f"{socket.gethostname()}_{secrets.token_hex(8)}")

    def held(self) -> bool:
        base = f"/apis/coordination.k8s.io/v1/namespaces/{self.namespace}/leases"
        now = _micro_now()
        try:
            lease = self.api.request("GET", f"{base}/{self.name}")
        except fakelib.HTTPStatusError as exc:
            if exc.status != 404:
                raise
            body = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": self.name, "namespace": self.namespace},
                "spec": self._spec(now, now, 0),
            }
            try:
                self.api.request("POST", base, body)
                return True
            except fakelib.HTTPStatusError as exc2:
                if exc2.status == 409:
                    return False
                raise
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity")
        renew = spec.get("renewTime") or spec.get("acquireTime") or ""
        expired = not renew or time.time() - _parse_micro(renew) > int(
            spec.get("leaseDurationSeconds") or self.duration
        )
        if holder != self.identity and not expired:
            return False
        transitions = int(spec.get("leaseTransitions") or 0) + (0 if holder == self.identity else 1)
        acquire = spec.get("acquireTime") if holder == self.identity else now
        lease["spec"] = self._spec(acquire or now, now, transitions)
        try:
            self.api.request("PUT", f"{base}/{self.name}", lease)
        except fakelib.HTTPStatusError as exc:
            if exc.status in (404, 409):
                return False
            raise
        return True

    def _spec(self, acquire: str, renew: str, transitions: int) -> dict[str, Any]:
        return {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": self.duration,
            "acquireTime": acquire,
            "renewTime": renew,
            "leaseTransitions": transitions,
        }


def _micro_now() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int((t % 1) * 1e6):06d}Z"


def _parse_micro(stamp: str) -> float:
    return fakelib.parse_rfc3339(stamp)


class ControllerManager:
    """One reconcile pass over every workload; call `run_pass` periodically."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.passes = 0

    # ---- plumbing ------------------------------------------------------------------------
    def list(self, prefix: str, plural: str, ns: str = "") -> list[dict[str, Any]]:
        path = f"{prefix}/namespaces/{ns}/{plural}" if ns else f"{prefix}/{plural}"
        return self.api.request("GET", path).get("items") or []

    def put_status(self, prefix: str, plural: str, obj: dict[str, Any], status: dict[str, Any]) -> None:
        if obj.get("status") == status:
            return
        obj = dict(obj, status=status)
        meta = obj["metadata"]
        path = f"{prefix}/namespaces/{meta['namespace']}/{plural}/{meta['name']}/status"
        try:
            self.api.request("PUT", path, obj)
        except fakelib.HTTPStatusError as exc:
            if exc.status not in (404, 409):  # gone or changed meanwhile: next pass
                raise

    def create_pod(
        self, owner: dict[str, Any], template: dict[str, Any], name: str = "", **extra: Any
    ) -> None:
        meta = owner["metadata"]
        tmeta = template.get("metadata") or {}
        pod_meta: dict[str, Any] = {
            "labels": dict(tmeta.get("labels") or {}),
            "annotations": dict(tmeta.get("annotations") or {}),
            "ownerReferences": [owner_ref(owner)],
        }
        if name:
            pod_meta["name"] = name
        else:
            pod_meta["name"] = f"{meta['name']}-{random_suffix()}"
        pod_meta["labels"].update(extra.pop("labels", {}))
        spec = json.loads(json.dumps(template.get("spec") or {}))
        spec.update(extra.pop("spec", {}))
        body = {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": spec}
        try:
            self.api.request("POST", f"/api/v1/namespaces/{meta['namespace']}/pods", body)
        except fakelib.HTTPStatusError as exc:
            if exc.status != 409:
                raise

    def delete(self, path: str) -> None:
        try:
            self.api.request("DELETE", path)
        except fakelib.HTTPStatusError as exc:
            if exc.status != 404:
                raise

    # ---- the pass --------------------------------------------------------------------------
    def run_pass(self) -> None:
        pods = self.list("/api/v1", "pods")
        self.deployments()
        self.replicasets(pods)
        self.statefulsets(pods)
        self.daemonsets(pods)
        self.jobs(pods)
        self.endpoints(self.list("/api/v1", "pods"))
        if self.passes % 3 == 0:
            self.garbage_collect()
        self.passes += 1

    def deployments(self) -> None:
        rss = self.list("/apis/apps/v1", "replicasets")
        for d in self.list("/apis/apps/v1", "deployments"):
            ns, name = d["metadata"]["namespace"], d["metadata"]["name"]
            spec = d.get("spec") or {}
            want = int(spec.get("replicas", 1))
            tmpl = spec.get("template") or {}
            h = template_hash(tmpl)
            mine = [rs for rs in rss if owned_by(rs, d)]
            new = next((rs for rs in mine if rs["metadata"]["name"] == f"{name}-{h}"), None)
            if new is None:
                tlabels = {**((tmpl.get("metadata") or {}).get("labels") or {}), "pod-template-hash": h}
                sel = json.loads(json.dumps(spec.get("selector") or {}))
                sel.setdefault("matchLabels", {})["pod-template-hash"] = h
                body = {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "metadata": {
                        "name": f"{name}-{h}",
                        "labels": tlabels,
                        "annotations": {"deployment.kubernetes.io/revision": str(len(mine) + 1)},
                        "ownerReferences": [owner_ref(d)],
                    },
                    "spec": {
                        "replicas": want,
                        "selector": sel,
                        "template": {**tmpl, "metadata": {**(tmpl.get("metadata") or {}), "labels": tlabels}},
                    },
                }
                try:
                    new = self.api.request("POST", f"/apis/apps/v1/namespaces/{ns}/replicasets", body)
                except fakelib.HTTPStatusError as exc:
                    if exc.status != 409:
                        raise
                    continue
            elif int(new["spec"].get("replicas", 0)) != want:
                self.scale(new, want)
            for old in mine:
                if old["metadata"]["name"] != new["metadata"]["name"] and int(old["spec"].get("replicas", 0)):
                    self.scale(old, 0)
            st = new.get("status") or {}
            ready = int(st.get("readyReplicas", 0))
            total = sum(int((rs.get("status") or {}).get("replicas", 0)) for rs in mine)
            available = ready >= want
            now = fakelib.now_rfc3339()
            status = {
                "observedGeneration": d["metadata"].get("generation", 1),
                "replicas": total,
                "updatedReplicas": int(st.get("replicas", 0)),
                "readyReplicas": ready,
                "availableReplicas": ready,
                "unavailableReplicas": max(want - ready, 0),
                "conditions": [
                    _cond(
                        d,
                        "Available",
                        available,
                        "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
                        now,
                    ),
                    _cond(
                        d,
                        "Progressing",
                        True,
                        "NewReplicaSetAvailable" if available else "ReplicaSetUpdated",
                        now,
                        f'ReplicaSet "{new["metadata"]["name"]}" '
                        + ("has successfully progressed." if available else "is progressing."),
                    ),
                ],
            }
            if not status["unavailableReplicas"]:
                del status["unavailableReplicas"]
            self.put_status("/apis/apps/v1", "deployments", d, status)

    def scale(self, rs: dict[str, Any], replicas: int) -> None:
        meta = rs["metadata"]
        rs = json.loads(json.dumps(rs))
        rs["spec"]["replicas"] = replicas
        try:
            self.api.request(
                "PUT", f"/apis/apps/v1/namespaces/{meta['namespace']}/replicasets/{meta['name']}", rs
            )
        except fakelib.HTTPStatusError as exc:
            if exc.status not in (404, 409):
                raise

    def replicasets(self, pods: list[dict[str, Any]]) -> None:
        for rs in self.list("/apis/apps/v1", "replicasets"):
            ns = rs["metadata"]["namespace"]
            want = int(rs["spec"].get("replicas", 1))
            mine = [p for p in pods if owned_by(p, rs) and pod_active(p)]
            for _ in range(want - len(mine)):
                self.create_pod(rs, rs["spec"].get("template") or {})
            if len(mine) > want:
                mine.sort(key=lambda p: (bool(p["spec"].get("nodeName")), pod_ready(p)))
                for p in mine[: len(mine) - want]:
                    self.delete(f"/api/v1/namespaces/{ns}/pods/{p['metadata']['name']}")
                mine = mine[len(mine) - want :]
            ready = sum(1 for p in mine if pod_ready(p))
            self.put_status(
                "/apis/apps/v1",
                "replicasets",
                rs,
                {
                    "replicas": len(mine),
                    "fullyLabeledReplicas": len(mine),
                    "readyReplicas": ready,
                    "availableReplicas": ready,
                    "observedGeneration": rs["metadata"].get("generation", 1),
                },
            )

    def statefulsets(self, pods: list[dict[str, Any]]) -> None:
        for s in self.list("/apis/apps/v1", "statefulsets"):
            ns, name = s["metadata"]["namespace"], s["metadata"]["name"]
            want = int(s["spec"].get("replicas", 1))
            mine = {p["metadata"]["name"]: p for p in pods if owned_by(p, s)}
            ordered = s["spec"].get("podManagementPolicy", "OrderedReady") == "OrderedReady"
            revision = template_hash(s["spec"].get("template") or {})
            for i in range(want):
                pname = f"{name}-{i}"
                if pname in mine:
                    if ordered and not pod_ready(mine[pname]):
                        break
                    continue
                hostname = {"hostname": pname}
                if s["spec"].get("serviceName"):
                    hostname["subdomain"] = s["spec"]["serviceName"]
                self.create_pod(
                    s,
                    s["spec"].get("template") or {},
                    pname,
                    labels={
                        "statefulset.kubernetes.io/pod-name": pname,
                        "apps.kubernetes.io/pod-index": str(i),
                    },
                    spec=hostname,
                )
                if ordered:
                    break
            for pname in sorted(mine, reverse=True):
                idx = pname.rsplit("-", 1)[-1]
                if idx.isdigit() and int(idx) >= want:
                    self.delete(f"/api/v1/namespaces/{ns}/pods/{pname}")
            ready = sum(1 for p in mine.values() if pod_ready(p))
            self.put_status(
                "/apis/apps/v1",
                "statefulsets",
                s,
                {
                    "observedGeneration": s["metadata"].get("generation", 1),
                    "replicas": len(mine),
                    "readyReplicas": ready,
                    "availableReplicas": ready,
                    "currentReplicas": len(mine),
                    "updatedReplicas": len(mine),
                    "currentRevision": f"{name}-{revision}",
                    "updateRevision": f"{name}-{revision}",
                },
            )

    def daemonsets(self, pods: list[dict[str, Any]]) -> None:
        dss = self.list("/apis/apps/v1", "daemonsets")
        if not dss:
            return
        nodes = self.list("/api/v1", "nodes")
        for ds in dss:
            ns = ds["metadata"]["namespace"]
            tmpl = ds["spec"].get("template") or {}
            tspec = tmpl.get("spec") or {}
            tolerations = [*(tspec.get("tolerations") or []), *DAEMON_TOLERATIONS]
            mine = [p for p in pods if owned_by(p, ds) and pod_active(p)]
            placed = {_pinned_node(p) for p in mine}
            eligible = [
                n
                for n in nodes
                if fake_scheduler.node_selector_ok(tspec, n)
                and fake_scheduler.taints_tolerated(n, tolerations, ("NoSchedule", "NoExecute"))[0]
            ]
            names = {n["metadata"]["name"] for n in eligible}
            for node in names - placed:
                affinity = {
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [
                                {
                                    "matchFields": [
                                        {"key": "metadata.name", "operator": "In", "values": [node]}
                                    ]
                                }
                            ]
                        }
                    }
                }
                self.create_pod(ds, tmpl, spec={"affinity": affinity, "tolerations": tolerations})
            for p in mine:
                if _pinned_node(p) not in names:
                    self.delete(f"/api/v1/namespaces/{ns}/pods/{p['metadata']['name']}")
            ready = sum(1 for p in mine if pod_ready(p))
            scheduled = sum(1 for p in mine if p["spec"].get("nodeName"))
            self.put_status(
                "/apis/apps/v1",
                "daemonsets",
                ds,
                {
                    "observedGeneration": ds["metadata"].get("generation", 1),
                    "desiredNumberScheduled": len(names),
                    "currentNumberScheduled": scheduled,
                    "updatedNumberScheduled": len(mine),
                    "numberReady": ready,
                    "numberAvailable": ready,
                    "numberMisscheduled": 0,
                    **({"numberUnavailable": len(names) - ready} if len(names) > ready else {}),
                },
            )

    def jobs(self, pods: list[dict[str, Any]]) -> None:
        for j in self.list("/apis/batch/v1", "jobs"):
            spec = j.get("spec") or {}
            mine = [p for p in pods if owned_by(p, j)]
            succeeded = sum(1 for p in mine if p.get("status", {}).get("phase") == "Succeeded")
            failed = sum(1 for p in mine if p.get("status", {}).get("phase") == "Failed")
            failed += sum(
                int(c.get("restartCount", 0))
                for p in mine
                for c in p.get("status", {}).get("containerStatuses") or []
            )
            active = [p for p in mine if pod_active(p)]
            completions = int(spec.get("completions", 1))
            status = dict(j.get("status") or {})
            now = fakelib.now_rfc3339()
            status.setdefault("startTime", now)
            done = any(c.get("type") in ("Complete", "Failed") for c in status.get("conditions") or [])
            if not done:
                if succeeded >= completions:
                    status["conditions"] = [_cond(j, "Complete", True, "", now)]
                    status["completionTime"] = now
                elif failed > int(spec.get("backoffLimit", 6)):
                    status["conditions"] = [
                        _cond(
                            j,
                            "Failed",
                            True,
                            "BackoffLimitExceeded",
                            now,
                            "Job has reached the specified backoff limit",
                        )
                    ]
                    for p in active:
                        self.delete(
                            f"/api/v1/namespaces/{p['metadata']['namespace']}/pods/{p['metadata']['name']}"
                        )
                    active = []
                else:
                    want = min(int(spec.get("parallelism", 1)), completions - succeeded) - len(active)
                    tmpl = spec.get("template") or {}
                    for _ in range(max(want, 0)):
                        self.create_pod(j, tmpl, labels={"job-name": j["metadata"]["name"]})
            status.update({"active": len(active), "succeeded": succeeded, "failed": failed})
            for k in ("active", "succeeded", "failed"):
                if not status[k]:
                    del status[k]
            self.put_status("/apis/batch/v1", "jobs", j, status)

    def endpoints(self, pods: list[dict[str, Any]]) -> None:
        for svc in self.list("/api/v1", "services"):
            sel = (svc.get("spec") or {}).get("selector")
            if not sel:
                continue  # selector-less services own manual Endpoints
            ns, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
            ready, not_ready = [], []
            matched = [
                p
                for p in pods
                if p["metadata"].get("namespace") == ns
                and all((p["metadata"].get("labels") or {}).get(k) == v for k, v in sel.items())
                and p.get("status", {}).get("podIP")
                and pod_active(p)
            ]
            for p in sorted(matched, key=lambda p: p["metadata"]["name"]):
                addr = {
                    "ip": p["status"]["podIP"],
                    "nodeName": p["spec"].get("nodeName"),
                    "targetRef": {
                        "kind": "Pod",
                        "namespace": ns,
                        "name": p["metadata"]["name"],
                        "uid": p["metadata"]["uid"],
                    },
                }
                (ready if pod_ready(p) else not_ready).append(addr)
            ports = []
            for sp in svc["spec"].get("ports") or []:
                target = sp.get("targetPort", sp.get("port"))
                if isinstance(target, str) and not target.isdigit():
                    target = next(
                        (
                            cp.get("containerPort")
                            for p in matched
                            for c in p["spec"].get("containers") or []
                            for cp in c.get("ports") or []
                            if cp.get("name") == target
                        ),
                        None,
                    )
                if target is None:
                    continue
                port = {"port": int(target), "protocol": sp.get("protocol", "TCP")}
                if sp.get("name"):
                    port["name"] = sp["name"]
                ports.append(port)
            subsets = []
            if ready or not_ready:
                subset: dict[str, Any] = {"ports": ports}
                if ready:
                    subset["addresses"] = ready
                if not_ready:
                    subset["notReadyAddresses"] = not_ready
                subsets.append(subset)
            path = f"/api/v1/namespaces/{ns}/endpoints"
            body = {
                "apiVersion": "v1",
                "kind": "Endpoints",
                "metadata": {
                    "name": name,
                    "namespace": ns,
                    "labels": dict(svc["metadata"].get("labels") or {}),
                },
                "subsets": subsets,
            }
            try:
                cur = self.api.request("GET", f"{path}/{name}")
            except fakelib.HTTPStatusError as exc:
                if exc.status != 404:
                    raise
                self.api.request("POST", path, body)
                continue
            if (cur.get("subsets") or []) != subsets:
                cur["subsets"] = subsets
                try:
                    self.api.request("PUT", f"{path}/{name}", cur)
                except fakelib.HTTPStatusError as exc:
                    if exc.status not in (404, 409):
                        raise

    def garbage_collect(self) -> None:
        """Delete dependents whose every owner (matched by uid) is gone."""
        alive: dict[tuple[str, str], set[str]] = {}

        def owner_uids(kind: str, ns: str) -> set[str]:
            key = (kind, ns)
            if key not in alive:
                prefix, plural = OWNER_PATHS[kind]
                alive[key] = {o["metadata"]["uid"] for o in self.list(prefix, plural, ns)}
            return alive[key]

        for prefix, plural in GC_RESOURCES:
            for obj in self.list(prefix, plural):
                refs = obj["metadata"].get("ownerReferences") or []
                ns = obj["metadata"].get("namespace", "")
                known = [r for r in refs if r.get("kind") in OWNER_PATHS]
                if not refs or len(known) != len(refs):
                    continue
                if any(r.get("uid") in owner_uids(r["kind"], ns) for r in known):
                    continue
                self.delete(f"{prefix}/namespaces/{ns}/{plural}/{obj['metadata']['name']}")


def _pinned_node(pod: dict[str, Any]) -> str:
    if pod.get("spec", {}).get("nodeName"):
        return pod["spec"]["nodeName"]
    terms = (
        ((pod.get("spec", {}).get("affinity") or {}).get("nodeAffinity") or {}).get(
            "requiredDuringSchedulingIgnoredDuringExecution"
        )
        or {}
    ).get("nodeSelectorTerms") or []
    for t in terms:
        for f in t.get("matchFields") or []:
            if f.get("key") == "metadata.name" and f.get("values"):
                return f["values"][0]
    return ""


def _cond(
    owner: dict[str, Any], kind: str, ok: bool, reason: str, now: str, message: str = ""
) -> dict[str, Any]:
    """A condition that keeps its lastTransitionTime while its status does not change."""
    old = next((c for c in (owner.get("status") or {}).get("conditions") or [] if c.get("type") == kind), {})
    status = "True" if ok else "False"
    since = old.get("lastTransitionTime") if old.get("status") == status else now
    out = {"type": kind, "status": status, "lastTransitionTime": since or now, "lastUpdateTime": since or now}
    if reason:
        out["reason"] = reason
    if message:
        out["message"] = message
    return out


class LeasedLoops:
    """kube-controller-manager and kube-scheduler as a distribution runs them on each of its
    controllers (k0s pkg/component/controller/controllermanager.go and scheduler.go start both with
    --leader-elect=true): a pass once a second, only while that component's kube-system Lease is
    held, so several controllers never act at once. Errors are logged and retried next pass."""

    def __init__(self, api: Api, stop: threading.Event, controllers: bool = True, scheduler: bool = True):
        self.stop = stop
        self.parts: list[tuple[str, LeaderLease, Any]] = []
        if controllers:
            self.parts.append(
                (
                    "kube-controller-manager",
                    LeaderLease(api, "kube-controller-manager"),
                    ControllerManager(api),
                )
            )
        if scheduler:
            self.parts.append(
                ("kube-scheduler", LeaderLease(api, "kube-scheduler"), fake_scheduler.Scheduler(api))
            )
        self.thread = threading.Thread(target=self.loop, name="control-loops", daemon=True)

    def loop(self) -> None:
        while not self.stop.wait(1):
            for name, lease, part in self.parts:
                try:
                    if lease.held():
                        part.run_pass()
                except (fakelib.FakeError, OSError) as exc:
                    fakelib.klog("warning", f"{name}: {exc} (will retry)")
