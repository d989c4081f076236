"""A minimal Kubernetes API server: CONTRACT FAKE for sealkit's tests (sealkit-contract-fake).

Never shipped in the product. It serves enough of the real API, over HTTPS with client-certificate
and bearer-token authentication, for real kubectl (1.29 and 1.35: get/apply (client- and
server-side)/create/delete/scale/logs/rollout status/wait/drain/label/taint), real helm (3 and 4:
release Secrets, --wait) and the other fakes. Objects live in a real etcd through its v3 JSON
gateway when one is configured, so every master shares state and a master's death loses nothing;
otherwise in a local JSON file.

Use in-process (`FakeAPIServer(cfg).start()`) or as a subprocess with kube-apiserver's own flag
names (`python3 fakeapi.py --secure-port ... --tls-cert-file ... --client-ca-file ...`).

Upstream behaviours emulated (kubernetes/kubernetes v1.35.0 unless noted): strategic merge and
server-side apply (fake_apply.py); protobuf request bodies for the kinds typed clients write
(fake_protobuf.py); /openapi/v3 documents that declare `fieldValidation`, so kubectl leaves
validation to the server (cli-runtime query_param_verifier_v3.go); defaults of apps/batch/core
objects (pkg/apis/*/v1/defaults.go); ClusterIP/NodePort allocation (pkg/registry/core/service);
Job selectors (pkg/registry/batch/job/strategy.go); pods/binding, pods/log (proxied to the
kubelet's port), the scale subresource; DeleteOptions.propagationPolicy; watch with the
initial-events-end bookmark; the Pod/Deployment/Service table columns (pkg/printers).
What it deliberately does not do: controllers other than node-lifecycle (the workload controllers
live in the fake kube-controller-manager, fake_controllers.py), authorization beyond a coarse split
(system:masters/authenticated users may do anything, bootstrappers and anonymous a fixed few
things), schema validation (fieldValidation=Strict accepts unknown fields), protobuf responses,
aggregated discovery (clients fall back to the legacy discovery documents), OpenAPI schemas,
graceful pod deletion (a DELETE removes the Pod at once; the kubelet then stops its containers).
"""

from __future__ import annotations

import base64
import contextlib
import copy
import csv
import fcntl
import http.server
import ipaddress
import json
import os
import re
import socket
import ssl
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

try:  # package import in sealkit's tests; sibling import when copied onto a host
    from . import fake_apply, fake_protobuf, fakelib
except ImportError:
    import fake_apply  # type: ignore[no-redef]
    import fake_protobuf  # type: ignore[no-redef]
    import fakelib  # type: ignore[no-redef]

FAKE_MARK = fakelib.FAKE_MARK
DEFAULT_VERSION = "v1.30.4"

# --------------------------------------------------------------------------------------------
# errors as Kubernetes Status objects
# --------------------------------------------------------------------------------------------


class ApiError(Exception):
    """An API failure rendered as a metav1.Status."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            out["details"] = self.details
        return out


def not_found(plural: str, name: str, group: str = "") -> ApiError:
    res = f"{plural}.{group}" if group else plural
    return ApiError(
        404, "NotFound", f'{res} "{name}" not found', {"name": name, "group": group, "kind": plural}
    )


def already_exists(plural: str, name: str, group: str = "") -> ApiError:
    res = f"{plural}.{group}" if group else plural
    return ApiError(
        409,
        "AlreadyExists",
        f'{res} "{name}" already exists',
        {"name": name, "group": group, "kind": plural},
    )


def conflict(plural: str, name: str) -> ApiError:
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {plural} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again",
        {"name": name, "kind": plural},
    )


# --------------------------------------------------------------------------------------------
# storage: a real etcd (shared by all masters) or a local JSON file (single master)
# --------------------------------------------------------------------------------------------


class StoreConflict(Exception):
    """Compare-and-swap lost: the key changed (or exists / is gone) since it was read."""


class Store(Protocol):
    """Revisioned key-value storage; revisions become resourceVersions."""

    def get(self, key: str) -> tuple[dict[str, Any], int] | None: ...

    def list(self, prefix: str) -> tuple[list[tuple[dict[str, Any], int]], int]: ...

    def create(self, key: str, obj: dict[str, Any]) -> int: ...

    def update(self, key: str, obj: dict[str, Any], expect: int) -> int: ...

    def delete(self, key: str, expect: int | None = None) -> tuple[dict[str, Any], int] | None: ...

    def describe(self) -> str: ...


class JsonFileStore:
    """All objects in one JSON file, flock-guarded so several processes on a host can share it."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.lock = threading.Lock()
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)

    def describe(self) -> str:
        return f"file {self.path}"

    @contextlib.contextmanager
    def _locked(self, write: bool) -> Any:
        with self.lock, open(self.path + ".lock", "a") as lf:
            fcntl.flock(lf, fcntl.LOCK_EX)
            try:
                try:
                    with open(self.path, encoding="utf-8") as fh:
                        data = json.load(fh)
                except FileNotFoundError:
                    data = {"rev": 1, "objects": {}}
                yield data
                if write:
                    fakelib.write_file(self.path, json.dumps(data), 0o600)
            finally:
                fcntl.flock(lf, fcntl.LOCK_UN)

    def get(self, key: str) -> tuple[dict[str, Any], int] | None:
        with self._locked(False) as data:
            ent = data["objects"].get(key)
            return (ent["value"], ent["mod"]) if ent else None

    def list(self, prefix: str) -> tuple[list[tuple[dict[str, Any], int]], int]:
        with self._locked(False) as data:
            items = [
                (ent["value"], ent["mod"])
                for k, ent in sorted(data["objects"].items())
                if k.startswith(prefix)
            ]
            return items, data["rev"]

    def create(self, key: str, obj: dict[str, Any]) -> int:
        with self._locked(True) as data:
            if key in data["objects"]:
                raise StoreConflict(key)
            data["rev"] += 1
            data["objects"][key] = {"value": obj, "mod": data["rev"]}
            return data["rev"]

    def update(self, key: str, obj: dict[str, Any], expect: int) -> int:
        with self._locked(True) as data:
            ent = data["objects"].get(key)
            if ent is None or ent["mod"] != expect:
                raise StoreConflict(key)
            data["rev"] += 1
            data["objects"][key] = {"value": obj, "mod": data["rev"]}
            return data["rev"]

    def delete(self, key: str, expect: int | None = None) -> tuple[dict[str, Any], int] | None:
        with self._locked(True) as data:
            ent = data["objects"].get(key)
            if ent is None:
                return None
            if expect is not None and ent["mod"] != expect:
                raise StoreConflict(key)
            del data["objects"][key]
            data["rev"] += 1
            return ent["value"], ent["mod"]


class EtcdStore:
    """Objects as JSON values in etcd under /registry/..., through the v3 JSON gateway."""

    def __init__(self, client: fakelib.EtcdClient) -> None:
        self.etcd = client

    def describe(self) -> str:
        return "etcd " + ",".join(self.etcd.endpoints)

    @staticmethod
    def _value(kv: dict[str, Any]) -> tuple[dict[str, Any], int]:
        return json.loads(base64.b64decode(kv["value"])), int(kv["mod_revision"])

    def get(self, key: str) -> tuple[dict[str, Any], int] | None:
        resp = self.etcd.call("/v3/kv/range", {"key": self.etcd.enc(key)})
        kvs = resp.get("kvs") or []
        return self._value(kvs[0]) if kvs else None

    def list(self, prefix: str) -> tuple[list[tuple[dict[str, Any], int]], int]:
        resp = self.etcd.call(
            "/v3/kv/range",
            {"key": self.etcd.enc(prefix), "range_end": self.etcd.prefix_end(prefix)},
        )
        rev = int(resp.get("header", {}).get("revision", "0"))
        return [self._value(kv) for kv in resp.get("kvs") or []], rev

    def _txn(self, key: str, target: str, value: int, success: dict[str, Any]) -> dict[str, Any]:
        field_name = {"CREATE": "create_revision", "MOD": "mod_revision"}[target]
        resp = self.etcd.call(
            "/v3/kv/txn",
            {
                "compare": [
                    {
                        "key": self.etcd.enc(key),
                        "result": "EQUAL",
                        "target": target,
                        field_name: str(value),
                    }
                ],
                "success": [success],
            },
        )
        if not resp.get("succeeded"):
            raise StoreConflict(key)
        return resp

    def create(self, key: str, obj: dict[str, Any]) -> int:
        resp = self._txn(
            key,
            "CREATE",
            0,
            {"request_put": {"key": self.etcd.enc(key), "value": self.etcd.enc(json.dumps(obj))}},
        )
        return int(resp["header"]["revision"])

    def update(self, key: str, obj: dict[str, Any], expect: int) -> int:
        resp = self._txn(
            key,
            "MOD",
            expect,
            {"request_put": {"key": self.etcd.enc(key), "value": self.etcd.enc(json.dumps(obj))}},
        )
        return int(resp["header"]["revision"])

    def delete(self, key: str, expect: int | None = None) -> tuple[dict[str, Any], int] | None:
        current = self.get(key)
        if current is None:
            return None
        self._txn(
            key,
            "MOD",
            current[1] if expect is None else expect,
            {"request_delete_range": {"key": self.etcd.enc(key)}},
        )
        return current


# --------------------------------------------------------------------------------------------
# the resource catalogue
# --------------------------------------------------------------------------------------------

# kinds in the "all" category (`kubectl get all`), per their REST storage's Categories()
# (kubernetes/kubernetes v1.35.0 pkg/registry/*/*/storage/storage.go)
ALL_CATEGORY = {"Pod", "Service", "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job"}

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    short: tuple[str, ...] = ()
    status: bool = False
    subresources: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        return self.kind.lower()

    def key(self, namespace: str, name: str) -> str:
        base = f"/registry/{self.group + '/' if self.group else ''}{self.plural}/"
        return base + (f"{namespace}/{name}" if self.namespaced else name)

    def prefix(self, namespace: str) -> str:
        base = f"/registry/{self.group + '/' if self.group else ''}{self.plural}/"
        return base + (f"{namespace}/" if self.namespaced and namespace else "")


RESOURCES: tuple[ResourceType, ...] = (
    ResourceType("", "v1", "namespaces", "Namespace", False, ("ns",), True, ("finalize",)),
    ResourceType("", "v1", "nodes", "Node", False, ("no",), True),
    ResourceType("", "v1", "pods", "Pod", True, ("po",), True, ("eviction", "binding", "log")),
    ResourceType("", "v1", "secrets", "Secret", True),
    ResourceType("", "v1", "configmaps", "ConfigMap", True, ("cm",)),
    ResourceType("", "v1", "services", "Service", True, ("svc",), True),
    ResourceType("", "v1", "endpoints", "Endpoints", True, ("ep",)),
    ResourceType("", "v1", "serviceaccounts", "ServiceAccount", True, ("sa",)),
    ResourceType("", "v1", "events", "Event", True, ("ev",)),
    ResourceType("apps", "v1", "deployments", "Deployment", True, ("deploy",), True, ("scale",)),
    ResourceType("apps", "v1", "daemonsets", "DaemonSet", True, ("ds",), True),
    ResourceType("apps", "v1", "replicasets", "ReplicaSet", True, ("rs",), True, ("scale",)),
    ResourceType("apps", "v1", "statefulsets", "StatefulSet", True, ("sts",), True, ("scale",)),
    ResourceType("apps", "v1", "controllerrevisions", "ControllerRevision", True),
    ResourceType("batch", "v1", "jobs", "Job", True, (), True),
    ResourceType("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True, ("pvc",), True),
    ResourceType("", "v1", "persistentvolumes", "PersistentVolume", False, ("pv",), True),
    ResourceType("storage.k8s.io", "v1", "storageclasses", "StorageClass", False, ("sc",)),
    ResourceType("networking.k8s.io", "v1", "ingresses", "Ingress", True, ("ing",), True),
    ResourceType("coordination.k8s.io", "v1", "leases", "Lease", True),
    ResourceType("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True, ("pdb",), True),
    ResourceType(
        "certificates.k8s.io",
        "v1",
        "certificatesigningrequests",
        "CertificateSigningRequest",
        False,
        ("csr",),
        True,
        ("approval",),
    ),
    ResourceType("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    ResourceType("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    ResourceType("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    ResourceType("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
)


def find_resource(group: str, version: str, plural: str) -> ResourceType | None:
    for r in RESOURCES:
        if r.group == group and r.version == version and r.plural == plural:
            return r
    return None


SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


# --------------------------------------------------------------------------------------------
# selectors, patches, tables
# --------------------------------------------------------------------------------------------


def _dig(obj: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def match_fields(obj: dict[str, Any], selector: str) -> bool:
    """fieldSelector: comma-joined `path=v`, `path==v`, `path!=v` over dotted JSON paths."""
    for term in filter(None, (t.strip() for t in selector.split(","))):
        m = re.match(r"^([A-Za-z0-9_.]+)\s*(!=|==|=)\s*(.*)$", term)
        if not m:
            raise ApiError(400, "BadRequest", f'invalid field selector: "{term}"')
        path, op, want = m.groups()
        got = _dig(obj, path)
        got_s = "" if got is None else str(got).lower() if isinstance(got, bool) else str(got)
        if (op == "!=") == (got_s == want):
            return False
    return True


def match_labels(labels: dict[str, str], selector: str) -> bool:
    """labelSelector: `k=v`, `k==v`, `k!=v`, `k`, `!k`, `k in (a,b)`, `k notin (a,b)`."""
    terms = re.findall(r"[^,(]+(?:\([^)]*\))?", selector)
    for term in (t.strip() for t in terms):
        if not term:
            continue
        m = re.match(r"^([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)$", term)
        if m:
            key, op, vals = m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",")}
            inside = key in labels and labels[key] in vals
            if (op == "in") != inside:
                return False
            continue
        m = re.match(r"^([^\s!=]+)\s*(!=|==|=)\s*(.*)$", term)
        if m:
            key, op, want = m.groups()
            equal = labels.get(key) == want
            if (op == "!=") == equal:
                return False
            continue
        if term.startswith("!"):
            if term[1:].strip() in labels:
                return False
        elif term not in labels:
            return False
    return True


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# merge keys and directives from upstream struct tags: see fake_apply's docstring
strategic_merge_patch = fake_apply.strategic_merge_patch


def json_patch(target: Any, ops: list[dict[str, Any]]) -> Any:
    """RFC 6902 add/remove/replace/test (what kubectl and client-go send)."""
    doc = copy.deepcopy(target)

    def split(path: str) -> list[str]:
        return [p.replace("~1", "/").replace("~0", "~") for p in path.split("/")[1:]]

    for op in ops:
        parts = split(op.get("path", ""))
        if not parts:
            raise ApiError(422, "Invalid", "json patch: empty path")
        parent = doc
        for p in parts[:-1]:
            parent = parent[int(p)] if isinstance(parent, list) else parent.setdefault(p, {})
        last = parts[-1]
        kind = op.get("op")
        try:
            if kind == "test":
                cur = parent[int(last)] if isinstance(parent, list) else parent.get(last)
                if cur != op.get("value"):
                    raise ApiError(422, "Invalid", f"json patch test failed at {op['path']}")
            elif kind in ("add", "replace"):
                if isinstance(parent, list):
                    if last == "-":
                        parent.append(op["value"])
                    elif kind == "add":
                        parent.insert(int(last), op["value"])
                    else:
                        parent[int(last)] = op["value"]
                else:
                    if kind == "replace" and last not in parent:
                        raise ApiError(422, "Invalid", f"json patch: replace of missing path {op['path']}")
                    parent[last] = op["value"]
            elif kind == "remove":
                if isinstance(parent, list):
                    parent.pop(int(last))
                else:
                    del parent[last]
            else:
                raise ApiError(422, "Invalid", f"json patch: unsupported op {kind!r}")
        except (KeyError, IndexError, ValueError) as exc:
            raise ApiError(422, "Invalid", f"json patch failed at {op.get('path')}: {exc}") from exc
    return doc


def human_duration(seconds: float) -> str:
    """kubectl's duration.HumanDuration, used in the AGE column."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m" if s % 60 == 0 else f"{m}m{s % 60}s"
    if m < 180:
        return f"{m}m"
    h = s // 3600
    if h < 8:
        return f"{h}h" if m % 60 == 0 else f"{h}h{m % 60}m"
    if h < 48:
        return f"{h}h"
    if h < 24 * 8:
        d = h // 24
        return f"{d}d" if h % 24 == 0 else f"{d}d{h % 24}h"
    if h < 24 * 365 * 2:
        return f"{h // 24}d"
    if h < 24 * 365 * 8:
        y = h // (24 * 365)
        rest = (h // 24) % 365
        return f"{y}y" if rest == 0 else f"{y}y{rest}d"
    return f"{h // (24 * 365)}y"


def _age(obj: dict[str, Any]) -> str:
    ts = obj.get("metadata", {}).get("creationTimestamp")
    if not ts:
        return "<unknown>"
    return human_duration(time.time() - fakelib.parse_rfc3339(ts))


def _col(name: str, typ: str = "string", fmt: str = "", priority: int = 0) -> dict[str, Any]:
    return {"name": name, "type": typ, "format": fmt, "description": "", "priority": priority}


def node_status_text(node: dict[str, Any]) -> str:
    ready = next((c for c in node.get("status", {}).get("conditions", []) if c.get("type") == "Ready"), None)
    text = "Unknown"
    if ready is not None:
        text = {"True": "Ready", "False": "NotReady"}.get(ready.get("status"), "Unknown")
    if node.get("spec", {}).get("unschedulable"):
        text += ",SchedulingDisabled"
    return text


def node_roles(node: dict[str, Any]) -> str:
    roles = set()
    for key, value in node.get("metadata", {}).get("labels", {}).items():
        if key.startswith("node-role.kubernetes.io/"):
            roles.add(key.split("/", 1)[1])
        elif key == "kubernetes.io/role":
            roles.add(value)
    return ",".join(sorted(r for r in roles if r)) or "<none>"


def _table_row(kind: str, obj: dict[str, Any]) -> list[Any]:
    meta = obj.get("metadata", {})
    status = obj.get("status", {})
    if kind == "Node":
        addrs = {a.get("type"): a.get("address") for a in status.get("addresses", [])}
        info = status.get("nodeInfo", {})
        return [
            meta.get("name"),
            node_status_text(obj),
            node_roles(obj),
            _age(obj),
            info.get("kubeletVersion", ""),
            addrs.get("InternalIP", "<none>"),
            addrs.get("ExternalIP", "<none>"),
            info.get("osImage", "<unknown>"),
            info.get("kernelVersion", "<unknown>"),
            info.get("containerRuntimeVersion", "<unknown>"),
        ]
    if kind == "Namespace":
        return [meta.get("name"), status.get("phase", "Active"), _age(obj)]
    if kind == "Pod":
        cs = status.get("containerStatuses", [])
        total = len(obj.get("spec", {}).get("containers", [])) or len(cs)
        ready = sum(1 for c in cs if c.get("ready"))
        restarts = sum(int(c.get("restartCount", 0)) for c in cs)
        return [
            meta.get("name"),
            f"{ready}/{total}",
            pod_status_text(obj),
            restarts,
            _age(obj),
            status.get("podIP", "<none>"),
            obj.get("spec", {}).get("nodeName", "<none>"),
            "<none>",
            "<none>",
        ]
    if kind == "Deployment":
        spec = obj.get("spec", {})
        return [
            meta.get("name"),
            f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
            status.get("updatedReplicas", 0),
            status.get("availableReplicas", 0),
            _age(obj),
        ]
    if kind == "Service":
        spec = obj.get("spec", {})
        ports = ",".join(
            f"{p.get('port')}{':' + str(p['nodePort']) if p.get('nodePort') else ''}"
            f"/{p.get('protocol', 'TCP')}"
            for p in spec.get("ports") or []
        )
        return [
            meta.get("name"),
            spec.get("type", "ClusterIP"),
            spec.get("clusterIP", "<none>"),
            ",".join(spec.get("externalIPs") or []) or "<none>",
            ports or "<none>",
            _age(obj),
        ]
    return [meta.get("name"), meta.get("creationTimestamp")]


def pod_status_text(pod: dict[str, Any]) -> str:
    """The STATUS column as upstream's printPod (pkg/printers/internalversion/printers.go,
    v1.35.0): a waiting or terminated container's reason beats the phase, init containers show
    as Init:<reason> or Init:n/m, a pod being deleted shows Terminating."""
    status = pod.get("status", {})
    reason = status.get("reason") or status.get("phase") or "Pending"
    inits = status.get("initContainerStatuses") or []
    n_init = len((pod.get("spec") or {}).get("initContainers") or [])
    initializing = False
    for i, c in enumerate(inits):
        st = c.get("state") or {}
        term = st.get("terminated")
        if term and term.get("exitCode") == 0:
            continue
        if term:
            reason = "Init:" + (term.get("reason") or f"ExitCode:{term.get('exitCode')}")
        elif (st.get("waiting") or {}).get("reason") not in (None, "", "PodInitializing"):
            reason = "Init:" + st["waiting"]["reason"]
        else:
            reason = f"Init:{i}/{n_init}"
        initializing = True
        break
    if not initializing:
        running = False
        for c in reversed(status.get("containerStatuses") or []):
            st = c.get("state") or {}
            if (st.get("waiting") or {}).get("reason"):
                reason = st["waiting"]["reason"]
            elif (st.get("terminated") or {}).get("reason"):
                reason = st["terminated"]["reason"]
            elif st.get("terminated"):
                reason = f"ExitCode:{st['terminated'].get('exitCode')}"
            elif st.get("running") and c.get("ready"):
                running = True
        if reason == "Completed" and running:
            reason = "Running"
    if pod.get("metadata", {}).get("deletionTimestamp"):
        reason = "Terminating"
    return reason


def _table_columns(kind: str) -> list[dict[str, Any]]:
    if kind == "Node":
        return [
            _col("Name", fmt="name"),
            _col("Status"),
            _col("Roles"),
            _col("Age"),
            _col("Version"),
            _col("Internal-IP", priority=1),
            _col("External-IP", priority=1),
            _col("OS-Image", priority=1),
            _col("Kernel-Version", priority=1),
            _col("Container-Runtime", priority=1),
        ]
    if kind == "Namespace":
        return [_col("Name", fmt="name"), _col("Status"), _col("Age")]
    if kind == "Deployment":
        return [
            _col("Name", fmt="name"),
            _col("Ready"),
            _col("Up-to-date", "integer"),
            _col("Available", "integer"),
            _col("Age"),
        ]
    if kind == "Service":
        return [
            _col("Name", fmt="name"),
            _col("Type"),
            _col("Cluster-IP"),
            _col("External-IP"),
            _col("Port(s)"),
            _col("Age"),
        ]
    if kind == "Pod":
        return [
            _col("Name", fmt="name"),
            _col("Ready"),
            _col("Status"),
            _col("Restarts", "integer"),
            _col("Age"),
            _col("IP", priority=1),
            _col("Node", priority=1),
            _col("Nominated Node", priority=1),
            _col("Readiness Gates", priority=1),
        ]
    return [_col("Name", fmt="name"), _col("Created At", "date")]


def to_table(
    kind: str, objs: list[dict[str, Any]], rv: str, table_version: str, include: str
) -> dict[str, Any]:
    rows = []
    for obj in objs:
        row: dict[str, Any] = {"cells": _table_row(kind, obj)}
        if include == "Object":
            row["object"] = obj
        elif include != "None":
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": f"meta.k8s.io/{table_version}",
                "metadata": obj.get("metadata", {}),
            }
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": f"meta.k8s.io/{table_version}",
        "metadata": {"resourceVersion": rv},
        "columnDefinitions": _table_columns(kind),
        "rows": rows,
    }


def apply_defaults(r: ResourceType, obj: dict[str, Any]) -> None:
    """The defaults clients rely on (helm's readiness checks read them), from upstream's
    pkg/apis/{core,apps,batch}/v1/defaults.go at v1.35.0: replicas 1, RollingUpdate 25%/25%,
    revisionHistoryLimit 10, progressDeadlineSeconds 600, restartPolicy Always (Never→OnFailure
    for Jobs is the user's), service type ClusterIP with TCP ports whose targetPort is the port."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    if r.kind in ("Deployment", "ReplicaSet", "StatefulSet"):
        spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
    if r.kind == "Deployment":
        spec.setdefault("progressDeadlineSeconds", 600)
        spec.setdefault("strategy", {"type": "RollingUpdate"})
        if spec["strategy"].get("type") == "RollingUpdate":
            spec["strategy"].setdefault("rollingUpdate", {"maxSurge": "25%", "maxUnavailable": "25%"})
    if r.kind == "StatefulSet":
        spec.setdefault("podManagementPolicy", "OrderedReady")
        spec.setdefault("updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
    if r.kind == "DaemonSet":
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault(
            "updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
        )
    if r.kind == "Job":
        spec.setdefault("backoffLimit", 6)
        spec.setdefault("completions", 1)
        spec.setdefault("parallelism", 1)
    pod_spec = spec if r.kind == "Pod" else (spec.get("template") or {}).get("spec")
    if r.kind == "Job" and isinstance(pod_spec, dict):
        pod_spec.setdefault("restartPolicy", "OnFailure")
    if isinstance(pod_spec, dict):
        pod_spec.setdefault("restartPolicy", "Always")
        pod_spec.setdefault("terminationGracePeriodSeconds", 30)
        pod_spec.setdefault("dnsPolicy", "ClusterFirst")
        pod_spec.setdefault("schedulerName", "default-scheduler")
        for c in [*(pod_spec.get("initContainers") or []), *(pod_spec.get("containers") or [])]:
            for port in c.get("ports") or []:
                port.setdefault("protocol", "TCP")
            tag = str(c.get("image", "")).rsplit("/", 1)[-1]
            latest = "@" not in tag and (":" not in tag or tag.endswith(":latest"))
            c.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
            c.setdefault("terminationMessagePath", "/dev/termination-log")
    if r.kind == "Service":
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        for port in spec.get("ports") or []:
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port.get("port"))


def job_selector(job: dict[str, Any]) -> None:
    """A Job without manualSelector gets a selector on its uid, and its template those labels
    (generateSelector in pkg/registry/batch/job/strategy.go, v1.35.0)."""
    spec = job.setdefault("spec", {})
    if spec.get("manualSelector"):
        return
    meta = job["metadata"]
    labels = {
        "batch.kubernetes.io/controller-uid": meta["uid"],
        "batch.kubernetes.io/job-name": meta["name"],
        "controller-uid": meta["uid"],
        "job-name": meta["name"],
    }
    tmeta = spec.setdefault("template", {}).setdefault("metadata", {})
    tmeta["labels"] = {**(tmeta.get("labels") or {}), **labels}
    spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": meta["uid"]}}


def normalize_secret(r: ResourceType, obj: dict[str, Any]) -> None:
    """Secrets store `stringData` as base64 `data`, as the real apiserver does on write."""
    if r.kind != "Secret" or not obj.get("stringData"):
        return
    data = obj.setdefault("data", {})
    for key, value in obj.pop("stringData").items():
        data[key] = base64.b64encode(str(value).encode()).decode()


# --------------------------------------------------------------------------------------------
# identities
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class User:
    name: str
    groups: tuple[str, ...] = ()

    @property
    def is_anonymous(self) -> bool:
        return self.name == "system:anonymous"


ANONYMOUS = User("system:anonymous", ("system:unauthenticated",))


def read_token_auth_file(path: str) -> dict[str, User]:
    """kube-apiserver --token-auth-file: `token,user,uid,"group1,group2"` per line."""
    out: dict[str, User] = {}
    for line in fakelib.read_text(path).splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = next(iter(csv.reader([line])))
        if len(parts) < 3:
            raise fakelib.FakeError(f"{path}: token file lines need token,user,uid[,groups]")
        groups = tuple(g for g in (parts[3].split(",") if len(parts) > 3 else []) if g)
        out[parts[0]] = User(parts[1], (*groups, "system:authenticated"))
    return out


# --------------------------------------------------------------------------------------------
# the server
# --------------------------------------------------------------------------------------------


@dataclass
class RequestContext:
    """What an extra route handler sees (k3s' supervisor endpoints live on the same port)."""

    handler: _Handler
    method: str
    path: str
    query: dict[str, list[str]]
    user: User | None
    body: bytes


ExtraRoute = Callable[[RequestContext], bool]


@dataclass
class APIServerConfig:
    """Everything a fake apiserver instance needs; names follow kube-apiserver's flags."""

    cert_file: str
    key_file: str
    client_ca_file: str = ""
    bind_address: str = "127.0.0.1"
    secure_port: int = 6443
    advertise_address: str = ""
    version: str = DEFAULT_VERSION
    store: Store | None = None
    anonymous_auth: bool = True
    static_tokens: dict[str, User] = field(default_factory=dict)
    enable_bootstrap_token_auth: bool = True
    node_monitor_grace_period: float = 40.0
    node_monitor_period: float = 5.0
    node_password_secrets: bool = False
    service_cluster_ip_range: str = "10.96.0.0/12"
    service_node_port_range: str = "30000-32767"
    extra_routes: list[ExtraRoute] = field(default_factory=list)
    on_delete: list[Callable[[ResourceType, dict[str, Any]], None]] = field(default_factory=list)
    verbose: bool = False


class _TLSHTTPServer(http.server.ThreadingHTTPServer):
    """Threaded HTTPS server whose TLS handshake happens in the connection's own thread."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr: tuple[str, int], api: FakeAPIServer, ctx: ssl.SSLContext) -> None:
        self.api = api
        self.tls = ctx
        super().__init__(addr, _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(30)
        try:
            conn = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            if self.api.cfg.verbose:
                fakelib.klog("info", f"TLS handshake error from {client_address}: {exc}")
            return
        try:
            conn.settimeout(300)
            _Handler(conn, client_address, self)
        finally:
            with contextlib.suppress(OSError):
                conn.close()


class FakeAPIServer:
    """The fake kube-apiserver: start() serves in background threads, stop() ends them."""

    def __init__(self, cfg: APIServerConfig) -> None:
        if cfg.store is None:
            raise fakelib.FakeError("fake apiserver needs a store (etcd or JSON file)")
        self.cfg = cfg
        self.store: Store = cfg.store
        self.stop_event = threading.Event()
        self.httpd: _TLSHTTPServer | None = None
        self.threads: list[threading.Thread] = []
        self.started = time.time()

    # ---- lifecycle ---------------------------------------------------------------------
    def ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cfg.cert_file, self.cfg.key_file)
        if self.cfg.client_ca_file:
            ctx.load_verify_locations(cafile=self.cfg.client_ca_file)
            ctx.verify_mode = ssl.CERT_OPTIONAL
        ctx.set_alpn_protocols(["http/1.1"])
        return ctx

    def start(self) -> None:
        self.httpd = _TLSHTTPServer((self.cfg.bind_address, self.cfg.secure_port), self, self.ssl_context())
        self.cfg.secure_port = self.httpd.server_address[1]
        self.bootstrap_objects()
        t = threading.Thread(target=self.httpd.serve_forever, name="fakeapi-http", daemon=True)
        t.start()
        self.threads.append(t)
        c = threading.Thread(target=self._controllers, name="fakeapi-ctrl", daemon=True)
        c.start()
        self.threads.append(c)

    def stop(self) -> None:
        self.stop_event.set()
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
        for t in self.threads:
            t.join(timeout=1)  # daemon threads; a request stuck on a dead etcd must not block

    @property
    def url(self) -> str:
        host = self.cfg.bind_address
        if host in ("0.0.0.0", ""):
            host = "127.0.0.1"
        return f"https://{host}:{self.cfg.secure_port}"

    def advertise(self) -> str:
        addr = self.cfg.advertise_address or self.cfg.bind_address
        if addr in ("0.0.0.0", ""):
            addr = fakelib.default_ip()
        return addr

    # ---- object helpers used by handlers, controllers and other fakes ------------------
    def get_obj(self, r: ResourceType, ns: str, name: str) -> tuple[dict[str, Any], int] | None:
        got = self.store.get(r.key(ns, name))
        if got is None:
            return None
        obj, rv = got
        obj.setdefault("metadata", {})["resourceVersion"] = str(rv)
        return obj, rv

    def create_obj(self, r: ResourceType, ns: str, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj.setdefault("metadata", {})
        name = meta.get("name") or ""
        if not name and meta.get("generateName"):
            name = meta["generateName"] + uuid.uuid4().hex[:5]
            meta["name"] = name
        if not name:
            raise ApiError(
                422,
                "Invalid",
                f"{r.kind}.{r.version} is invalid: metadata.name: "
                "Required value: name or generateName is required",
            )
        pattern = _DNS1123_LABEL if r.plural == "namespaces" else _DNS1123_SUBDOMAIN
        if r.plural not in ("events",) and (len(name) > 253 or not pattern.match(name)):
            raise ApiError(
                422,
                "Invalid",
                f'{r.kind} "{name}" is invalid: metadata.name: '
                f'Invalid value: "{name}": a lowercase RFC 1123 '
                f"{'label' if r.plural == 'namespaces' else 'subdomain'} must consist "
                "of lower case alphanumeric characters, '-' or '.'",
                {"name": name, "kind": r.kind},
            )
        if r.namespaced:
            meta["namespace"] = ns
            if self.get_obj(NAMESPACES, "", ns) is None:
                raise not_found("namespaces", ns)
        else:
            meta.pop("namespace", None)
        obj["apiVersion"], obj["kind"] = r.api_version, r.kind
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = fakelib.now_rfc3339()
        meta.pop("resourceVersion", None)
        meta.pop("deletionTimestamp", None)
        meta["generation"] = 1
        normalize_secret(r, obj)
        apply_defaults(r, obj)
        if r.kind == "Job":
            job_selector(obj)
        if r.plural == "services":
            self.allocate_service(obj, None)
        if r.plural == "namespaces":
            obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
            obj["status"] = {"phase": "Active"}
        try:
            rv = self.store.create(r.key(ns, name), obj)
        except StoreConflict as exc:
            raise already_exists(r.plural, name, r.group) from exc
        meta["resourceVersion"] = str(rv)
        return obj

    def update_obj(
        self,
        r: ResourceType,
        ns: str,
        name: str,
        mutate: Callable[[dict[str, Any]], dict[str, Any]],
        retries: int = 8,
    ) -> dict[str, Any]:
        """Read-modify-write with compare-and-swap; `mutate` may raise ApiError."""
        for _ in range(retries):
            got = self.get_obj(r, ns, name)
            if got is None:
                raise not_found(r.plural, name, r.group)
            current, rv = got
            new = mutate(copy.deepcopy(current))
            new["apiVersion"], new["kind"] = r.api_version, r.kind
            meta = new.setdefault("metadata", {})
            want_rv = meta.get("resourceVersion")
            if want_rv and want_rv != str(rv):
                raise conflict(r.plural, name)
            for keep in ("uid", "creationTimestamp", "name", "namespace"):
                if keep in current["metadata"]:
                    meta[keep] = current["metadata"][keep]
            meta.pop("resourceVersion", None)
            normalize_secret(r, new)
            try:
                new_rv = self.store.update(r.key(ns, name), new, rv)
            except StoreConflict:
                continue
            meta["resourceVersion"] = str(new_rv)
            return new
        raise conflict(r.plural, name)

    def delete_obj(self, r: ResourceType, ns: str, name: str) -> dict[str, Any]:
        got = self.store.delete(r.key(ns, name))
        if got is None:
            raise not_found(r.plural, name, r.group)
        obj, rv = got
        obj.setdefault("metadata", {})["resourceVersion"] = str(rv)
        if r.plural == "namespaces":
            for other in RESOURCES:
                if other.namespaced:
                    items, _ = self.store.list(other.prefix(name))
                    for item, _ in items:
                        self.store.delete(other.key(name, item["metadata"]["name"]))
        if r.plural == "nodes" and self.cfg.node_password_secrets:
            self.store.delete(SECRETS.key("kube-system", f"{name}.node-password.k3s"))
        for hook in self.cfg.on_delete:
            hook(r, obj)
        return obj

    def list_objs(self, r: ResourceType, ns: str) -> tuple[list[dict[str, Any]], int]:
        items, rev = self.store.list(r.prefix(ns))
        out = []
        for obj, rv in items:
            obj.setdefault("metadata", {})["resourceVersion"] = str(rv)
            out.append(obj)
        return out, rev

    def ensure(self, r: ResourceType, ns: str, obj: dict[str, Any]) -> None:
        """Create unless present (several masters race for this at start-up)."""
        try:
            self.create_obj(r, ns, obj)
        except ApiError as exc:
            if exc.code != 409:  # AlreadyExists: another master won the race
                raise

    def bootstrap_objects(self) -> None:
        for ns in SYSTEM_NAMESPACES:
            self.ensure(NAMESPACES, "", {"metadata": {"name": ns}})
        self.ensure(
            SERVICES,
            "default",
            {
                "metadata": {
                    "name": "kubernetes",
                    "labels": {"component": "apiserver", "provider": "kubernetes"},
                },
                "spec": {
                    "type": "ClusterIP",
                    "clusterIP": self.kubernetes_service_ip(),
                    "ports": [
                        {
                            "name": "https",
                            "port": 443,
                            "protocol": "TCP",
                            "targetPort": self.cfg.secure_port,
                        }
                    ],
                },
            },
        )
        self.register_endpoint()

    def allocate_service(self, svc: dict[str, Any], old: dict[str, Any] | None) -> None:
        """ClusterIP and NodePort allocation as the service REST storage does (upstream
        pkg/registry/core/service/storage/alloc.go, v1.35.0): a set value must be free and in
        range (422 otherwise), a missing one is allocated, an update that omits them keeps the
        old ones, `None` is headless; NodePorts come from --service-node-port-range."""
        spec = svc.setdefault("spec", {})
        name = svc.get("metadata", {}).get("name", "")
        ns = svc.get("metadata", {}).get("namespace", "")
        old_spec = (old or {}).get("spec") or {}
        others, _ = self.list_objs(SERVICES, "")
        others = [o for o in others if (o["metadata"].get("namespace"), o["metadata"]["name"]) != (ns, name)]
        used_ips = {o.get("spec", {}).get("clusterIP") for o in others}
        used_ports = {
            p.get("nodePort")
            for o in others
            for p in o.get("spec", {}).get("ports") or []
            if p.get("nodePort")
        }
        net = ipaddress.ip_network(self.cfg.service_cluster_ip_range.split(",")[0], strict=False)
        if not spec.get("clusterIP") and old_spec.get("clusterIP"):
            spec["clusterIP"] = old_spec["clusterIP"]
        ip = spec.get("clusterIP")
        if ip and ip != "None":
            if ipaddress.ip_address(ip) not in net or (ip in used_ips and not old):
                raise ApiError(
                    422,
                    "Invalid",
                    f'Service "{name}" is invalid: spec.clusterIPs: Invalid value: ["{ip}"]: '
                    + (
                        "provided IP is already allocated"
                        if ip in used_ips
                        else "provided IP is not in the valid range"
                    ),
                )
        elif not ip:
            free = (
                str(a)
                for a in net.hosts()
                if str(a) not in used_ips and int(a) > int(net.network_address) + 1
            )
            spec["clusterIP"] = next(free)
        if spec["clusterIP"] != "None":
            spec["clusterIPs"] = [spec["clusterIP"]]
        if spec.get("type") not in ("NodePort", "LoadBalancer"):
            return
        low, high = self.node_port_range()
        old_ports = {
            (p.get("port"), p.get("protocol", "TCP")): p.get("nodePort") for p in old_spec.get("ports") or []
        }
        for port in spec.get("ports") or []:
            if not port.get("nodePort"):
                kept = old_ports.get((port.get("port"), port.get("protocol", "TCP")))
                if kept:
                    port["nodePort"] = kept
            np = port.get("nodePort")
            if np:
                if not low <= int(np) <= high or (np in used_ports):
                    raise ApiError(
                        422,
                        "Invalid",
                        f'Service "{name}" is invalid: spec.ports[0].nodePort: Invalid value: {np}: '
                        + (
                            "provided port is already allocated"
                            if np in used_ports
                            else "provided port is not in the valid range. "
                            f"The range of valid ports is {low}-{high}"
                        ),
                    )
            else:
                port["nodePort"] = next(p for p in range(low, high + 1) if p not in used_ports)
            used_ports.add(port["nodePort"])

    def node_port_range(self) -> tuple[int, int]:
        low, _, high = self.cfg.service_node_port_range.partition("-")
        return int(low), int(high or low)

    def kubernetes_service_ip(self) -> str:
        net = ipaddress.ip_network(self.cfg.service_cluster_ip_range.split(",")[0], strict=False)
        return str(net.network_address + 1)

    def register_endpoint(self) -> None:
        """Add this apiserver to default/kubernetes Endpoints (what agents load-balance over)."""
        me = {"ip": self.advertise()}
        port = {"name": "https", "port": self.cfg.secure_port, "protocol": "TCP"}
        self.ensure(ENDPOINTS, "default", {"metadata": {"name": "kubernetes"}, "subsets": []})

        def add(obj: dict[str, Any]) -> dict[str, Any]:
            subsets = obj.get("subsets") or [{"addresses": [], "ports": [port]}]
            addrs = subsets[0].setdefault("addresses", [])
            if me not in addrs:
                addrs.append(me)
            subsets[0]["ports"] = [port]
            obj["subsets"] = subsets
            return obj

        self.update_obj(ENDPOINTS, "default", "kubernetes", add)

    def apiserver_addresses(self) -> list[str]:
        got = self.get_obj(ENDPOINTS, "default", "kubernetes")
        if got is None:
            return []
        out = []
        for subset in got[0].get("subsets") or []:
            ports = subset.get("ports") or [{"port": self.cfg.secure_port}]
            for addr in subset.get("addresses") or []:
                out.append(f"{addr['ip']}:{ports[0]['port']}")
        return out

    # ---- controllers --------------------------------------------------------------------
    def _controllers(self) -> None:
        while not self.stop_event.wait(self.cfg.node_monitor_period):
            try:
                self.node_lifecycle_pass()
            except (fakelib.FakeError, ApiError, OSError) as exc:
                fakelib.klog("warning", f"controller pass failed (will retry): {exc}")

    def node_lifecycle_pass(self, now: float | None = None) -> None:
        """Set Ready=Unknown on nodes whose kubelet stopped heartbeating (node controller)."""
        now = time.time() if now is None else now
        nodes, _ = self.list_objs(NODES, "")
        for node in nodes:
            conds = node.get("status", {}).get("conditions", [])
            ready = next((c for c in conds if c.get("type") == "Ready"), None)
            if ready is None or ready.get("status") == "Unknown":
                continue
            beat = ready.get("lastHeartbeatTime")
            if beat and now - fakelib.parse_rfc3339(beat) <= self.cfg.node_monitor_grace_period:
                continue
            name = node["metadata"]["name"]

            def unknown(obj: dict[str, Any]) -> dict[str, Any]:
                stamp = fakelib.now_rfc3339()
                for c in obj.get("status", {}).get("conditions", []):
                    c["status"] = "Unknown"
                    c["reason"] = "NodeStatusUnknown"
                    c["message"] = "Kubelet stopped posting node status."
                    c["lastTransitionTime"] = stamp
                taints = obj.setdefault("spec", {}).setdefault("taints", [])
                if not any(t.get("key") == "node.kubernetes.io/unreachable" for t in taints):
                    taints.append(
                        {
                            "key": "node.kubernetes.io/unreachable",
                            "effect": "NoSchedule",
                            "timeAdded": stamp,
                        }
                    )
                return obj

            try:
                self.update_obj(NODES, "", name, unknown, retries=1)
            except ApiError as exc:
                if exc.code not in (404, 409):  # deleted or updated meanwhile: next pass
                    raise

    # ---- authentication ----------------------------------------------------------------
    def authenticate(self, handler: _Handler) -> User | None:
        """Client cert (CN=user, O=groups) or bearer token; None means anonymous."""
        cert = handler.connection.getpeercert() if hasattr(handler.connection, "getpeercert") else None
        if cert:
            cn = ""
            groups: list[str] = []
            for rdn in cert.get("subject", ()):
                for key, value in rdn:
                    if key == "commonName":
                        cn = value
                    elif key == "organizationName":
                        groups.append(value)
            if cn:
                return User(cn, (*groups, "system:authenticated"))
        auth = handler.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            token = auth[7:].strip()
            user = self.cfg.static_tokens.get(token)
            if user is None and self.cfg.enable_bootstrap_token_auth:
                user = self.bootstrap_token_user(token)
            if user is None:
                raise ApiError(401, "Unauthorized", "Unauthorized")
            return user
        return None

    def bootstrap_token_user(self, token: str) -> User | None:
        m = re.fullmatch(r"([a-z0-9]{6})\.([a-z0-9]{16})", token)
        if not m:
            return None
        got = self.get_obj(SECRETS, "kube-system", f"bootstrap-token-{m.group(1)}")
        if got is None:
            return None
        data = {k: base64.b64decode(v).decode() for k, v in (got[0].get("data") or {}).items()}
        data.update(got[0].get("stringData") or {})
        if data.get("token-secret") != m.group(2):
            return None
        if data.get("usage-bootstrap-authentication") != "true":
            return None
        exp = data.get("expiration")
        if exp and fakelib.parse_rfc3339(exp) < time.time():
            return None
        extra = tuple(g for g in data.get("auth-extra-groups", "").split(",") if g)
        return User(
            f"system:bootstrap:{m.group(1)}",
            ("system:bootstrappers", *extra, "system:authenticated"),
        )

    def authorize(self, user: User, verb: str, r: ResourceType, ns: str, name: str) -> None:
        """Coarse authorization: see the module docstring."""
        if user.is_anonymous:
            if r.plural == "configmaps" and ns == "kube-public" and name == "cluster-info" and verb == "get":
                return
        elif "system:bootstrappers" not in user.groups:
            return
        else:
            allowed = {
                "nodes": {"get", "list", "watch"},
                "configmaps": {"get"},
                "certificatesigningrequests": {"create", "get", "list", "watch"},
            }
            if verb in allowed.get(r.plural, set()):
                return
            if (r.plural, ns, name, verb) == ("secrets", "kube-system", "kubeadm-certs", "get"):
                return
        scope = f'in the namespace "{ns}"' if ns else "at the cluster scope"
        raise ApiError(
            403,
            "Forbidden",
            f"{r.plural}{'.' + r.group if r.group else ''}{' ' + json.dumps(name) if name else ''}"
            f' is forbidden: User "{user.name}" cannot {verb} resource "{r.plural}" in API group '
            f'"{r.group}" {scope}',
            {"name": name, "group": r.group, "kind": r.plural},
        )

    # ---- pods, owners ----------------------------------------------------------------------
    def bind_pod(self, ns: str, name: str, binding: dict[str, Any]) -> dict[str, Any]:
        """pods/binding as upstream's BindingREST.assignPod (pkg/registry/core/pod/storage,
        v1.35.0): sets spec.nodeName once; a bound pod answers 409."""
        target = (binding.get("target") or {}).get("name", "")
        if not target:
            raise ApiError(422, "Invalid", "Binding is invalid: target.name: Required value")

        def assign(pod: dict[str, Any]) -> dict[str, Any]:
            if pod.get("metadata", {}).get("deletionTimestamp"):
                raise ApiError(409, "Conflict", f"pod {name} is being deleted, cannot be assigned to a host")
            current = pod.get("spec", {}).get("nodeName")
            if current:
                raise ApiError(409, "Conflict", f"pod {name} is already assigned to node {current!r}")
            pod.setdefault("spec", {})["nodeName"] = target
            conds = pod.setdefault("status", {}).setdefault("conditions", [])
            conds[:] = [c for c in conds if c.get("type") != "PodScheduled"]
            conds.append(
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": fakelib.now_rfc3339()}
            )
            return pod

        self.update_obj(PODS, ns, name, assign)
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}

    def dependents(self, owner: dict[str, Any]) -> list[tuple[ResourceType, dict[str, Any]]]:
        """Objects whose ownerReferences name `owner`'s uid (what the garbage collector follows)."""
        uid = owner.get("metadata", {}).get("uid")
        ns = owner.get("metadata", {}).get("namespace", "")
        out = []
        for r in RESOURCES:
            if r.namespaced and not ns:
                continue  # a cluster-scoped owner: namespaced dependents are not looked for here
            items, _ = self.list_objs(r, ns if r.namespaced else "")
            for item in items:
                refs = item.get("metadata", {}).get("ownerReferences") or []
                if any(ref.get("uid") == uid for ref in refs):
                    out.append((r, item))
        return out

    def delete_with_policy(self, r: ResourceType, ns: str, name: str, policy: str) -> dict[str, Any]:
        """DELETE with DeleteOptions.propagationPolicy (apimachinery meta/v1 types.go): Orphan
        strips the dependents' ownerReferences, Foreground deletes dependents before the owner
        (upstream does it asynchronously through the foregroundDeletion finalizer; here it is
        synchronous), Background deletes the owner and leaves the dependents to the garbage
        collector of kube-controller-manager."""
        if policy not in ("Orphan", "Foreground", "Background"):
            raise ApiError(
                422,
                "Invalid",
                f'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "{policy}": '
                'supported values: "Foreground", "Background", "Orphan"',
            )
        got = self.get_obj(r, ns, name)
        if got is None:
            raise not_found(r.plural, name, r.group)
        owner = got[0]
        uid = owner["metadata"].get("uid")
        if policy != "Background":
            for dr, dep in self.dependents(owner):
                dns, dname = dep["metadata"].get("namespace", ""), dep["metadata"]["name"]
                try:
                    if policy == "Orphan":

                        def strip(o: dict[str, Any]) -> dict[str, Any]:
                            refs = o["metadata"].get("ownerReferences") or []
                            o["metadata"]["ownerReferences"] = [x for x in refs if x.get("uid") != uid]
                            return o

                        self.update_obj(dr, dns, dname, strip)
                    else:
                        self.delete_with_policy(dr, dns, dname, "Foreground")
                except ApiError as exc:
                    if exc.code != 404:
                        raise
        return self.delete_obj(r, ns, name)

    def kubelet_url(self, ns: str, name: str) -> tuple[str, dict[str, Any]]:
        """The kubelet endpoint serving a pod's logs (pod → node → InternalIP:kubeletEndpoint)."""
        got = self.get_obj(PODS, ns, name)
        if got is None:
            raise not_found("pods", name)
        pod = got[0]
        node_name = pod.get("spec", {}).get("nodeName")
        if not node_name:
            raise ApiError(400, "BadRequest", f'pod "{name}" is not assigned to a node yet')
        node = self.get_obj(NODES, "", node_name)
        if node is None:
            raise not_found("nodes", node_name)
        status = node[0].get("status", {})
        addrs = {a.get("type"): a.get("address") for a in status.get("addresses") or []}
        port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port") or 10250
        host = addrs.get("InternalIP") or addrs.get("Hostname") or node_name
        if ":" in host:
            host = f"[{host}]"
        return f"https://{host}:{port}", pod

    # ---- OpenAPI v3 (only what clients probe) -------------------------------------------------
    def openapi_v3_root(self) -> dict[str, Any]:
        """/openapi/v3: one entry per group-version (kube-openapi handler3 layout)."""
        paths = {}
        for gv in sorted({(r.group, r.version) for r in RESOURCES}):
            rel = f"apis/{gv[0]}/{gv[1]}" if gv[0] else f"api/{gv[1]}"
            paths[rel] = {"serverRelativeURL": f"/openapi/v3/{rel}?hash={FAKE_MARK}"}
        return {"paths": paths}

    def openapi_v3_gv(self, group: str, version: str) -> dict[str, Any] | None:
        """A group-version document with PATCH operations that declare `fieldValidation`, so
        kubectl's QueryParamVerifierV3 (staging/src/k8s.io/cli-runtime/pkg/resource/
        query_param_verifier_v3.go, v1.35.0) leaves validation to the server. No schemas."""
        rs = [r for r in RESOURCES if r.group == group and r.version == version]
        if not rs:
            return None
        params = [
            {"name": n, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
            for n in ("dryRun", "fieldManager", "fieldValidation", "force", "pretty")
        ]
        paths: dict[str, Any] = {}
        prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
        for r in rs:
            item = (
                f"{prefix}/namespaces/{{namespace}}/{r.plural}/{{name}}"
                if r.namespaced
                else f"{prefix}/{r.plural}/{{name}}"
            )
            gvk = {"group": group, "version": version, "kind": r.kind}
            paths[item] = {
                "patch": {
                    "operationId": f"patch{r.kind}",
                    "parameters": params,
                    "x-kubernetes-action": "patch",
                    "x-kubernetes-group-version-kind": gvk,
                }
            }
        return {
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": self.cfg.version},
            "paths": paths,
            "components": {"schemas": {}},
        }

    # ---- discovery documents -----------------------------------------------------------
    def version_info(self) -> dict[str, Any]:
        m = re.match(r"v(\d+)\.(\d+)", self.cfg.version)
        major, minor = (m.group(1), m.group(2)) if m else ("1", "0")
        return {
            "major": major,
            "minor": minor,
            "gitVersion": self.cfg.version,
            "gitCommit": FAKE_MARK,
            "gitTreeState": "clean",
            "buildDate": "2024-01-01T00:00:00Z",
            "goVersion": "go1.22.5",
            "compiler": "gc",
            "platform": "linux/amd64",
        }

    @staticmethod
    def resource_list(group: str, version: str) -> dict[str, Any]:
        resources = []
        for r in RESOURCES:
            if r.group != group or r.version != version:
                continue
            verbs = [v for v in ALL_VERBS if not (r.plural == "namespaces" and v == "deletecollection")]
            entry: dict[str, Any] = {
                "name": r.plural,
                "singularName": r.singular,
                "namespaced": r.namespaced,
                "kind": r.kind,
                "verbs": verbs,
            }
            if r.short:
                entry["shortNames"] = list(r.short)
            if r.kind in ALL_CATEGORY:
                entry["categories"] = ["all"]
            resources.append(entry)
            if r.status:
                resources.append(
                    {
                        "name": f"{r.plural}/status",
                        "singularName": "",
                        "namespaced": r.namespaced,
                        "kind": r.kind,
                        "verbs": ["get", "patch", "update"],
                    }
                )
            for sub in r.subresources:
                if sub == "eviction":
                    resources.append(
                        {
                            "name": "pods/eviction",
                            "singularName": "",
                            "namespaced": True,
                            "group": "policy",
                            "version": "v1",
                            "kind": "Eviction",
                            "verbs": ["create"],
                        }
                    )
                else:
                    resources.append(
                        {
                            "name": f"{r.plural}/{sub}",
                            "singularName": "",
                            "namespaced": r.namespaced,
                            "kind": r.kind,
                            "verbs": ["update"],
                        }
                    )
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version,
            "resources": resources,
        }

    def api_groups(self) -> dict[str, Any]:
        groups: dict[str, list[str]] = {}
        for r in RESOURCES:
            if r.group:
                groups.setdefault(r.group, [])
                if r.version not in groups[r.group]:
                    groups[r.group].append(r.version)
        return {
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [
                {
                    "name": g,
                    "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in vs],
                    "preferredVersion": {"groupVersion": f"{g}/{vs[0]}", "version": vs[0]},
                }
                for g, vs in groups.items()
            ],
        }


NAMESPACES = RESOURCES[0]
NODES = RESOURCES[1]
PODS = RESOURCES[2]
SECRETS = RESOURCES[3]
CONFIGMAPS = RESOURCES[4]
SERVICES = RESOURCES[5]
ENDPOINTS = RESOURCES[6]
CSRS = next(r for r in RESOURCES if r.plural == "certificatesigningrequests")

PUBLIC_PATHS = ("/healthz", "/livez", "/readyz", "/version")


class _Handler(http.server.BaseHTTPRequestHandler):
    """One HTTP/1.1 connection; every request is routed through `route`."""

    protocol_version = "HTTP/1.1"
    server: _TLSHTTPServer
    server_version = f"fake-kube-apiserver ({FAKE_MARK})"

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.api.cfg.verbose:
            fakelib.klog("info", "http: " + format % args)

    # ---- plumbing -----------------------------------------------------------------------
    def send_bytes(
        self,
        code: int,
        body: bytes,
        ctype: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache, private")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, code: int, obj: Any) -> None:
        self.send_bytes(code, json.dumps(obj).encode())

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self) -> None:
        self.route()

    def do_POST(self) -> None:
        self.route()

    def do_PUT(self) -> None:
        self.route()

    def do_PATCH(self) -> None:
        self.route()

    def do_DELETE(self) -> None:
        self.route()

    def do_HEAD(self) -> None:
        self.route()

    # ---- routing ------------------------------------------------------------------------
    def route(self) -> None:
        api = self.server.api
        parsed = urllib.parse.urlsplit(self.path)
        path = parsed.path
        query = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
        body = self.read_body()
        try:
            user = api.authenticate(self)
            ctx = RequestContext(self, self.command, path, query, user, body)
            for extra in api.cfg.extra_routes:
                if extra(ctx):
                    return
            if user is None:
                if not api.cfg.anonymous_auth:
                    raise ApiError(401, "Unauthorized", "Unauthorized")
                user = ANONYMOUS
            self.dispatch(api, user, path, query, body)
        except ApiError as exc:
            self.send_json(exc.code, exc.status())
        except (fakelib.FakeError, OSError, KeyError, ValueError, TypeError, IndexError) as exc:
            if isinstance(exc, BrokenPipeError | ConnectionResetError):
                return
            fakelib.klog("error", f"{self.command} {self.path}: {type(exc).__name__}: {exc}")
            err = ApiError(500, "InternalError", f"Internal error occurred: {exc}")
            with contextlib.suppress(OSError):
                self.send_json(500, err.status())

    def dispatch(
        self, api: FakeAPIServer, user: User, path: str, query: dict[str, list[str]], body: bytes
    ) -> None:
        path = path.rstrip("/") or "/"
        base = path.split("/")[1] if path != "/" else ""
        if path in PUBLIC_PATHS or (base in ("healthz", "livez", "readyz")):
            if user.is_anonymous and not api.cfg.anonymous_auth:
                raise ApiError(401, "Unauthorized", "Unauthorized")
            if path == "/version":
                self.send_json(200, api.version_info())
                return
            self.check_store(api)
            self.send_bytes(200, b"ok", "text/plain; charset=utf-8")
            return
        if user.is_anonymous and not path.startswith(("/api/v1/namespaces/kube-public",)):
            raise ApiError(
                403,
                "Forbidden",
                f'forbidden: User "system:anonymous" cannot get path "{path}"',
            )
        if path == "/api":
            self.send_json(
                200,
                {
                    "kind": "APIVersions",
                    "versions": ["v1"],
                    "serverAddressByClientCIDRs": [
                        {
                            "clientCIDR": "0.0.0.0/0",
                            "serverAddress": f"{api.advertise()}:{api.cfg.secure_port}",
                        }
                    ],
                },
            )
            return
        if path == "/openapi/v3":
            self.send_json(200, api.openapi_v3_root())
            return
        if path.startswith("/openapi/v3/"):
            gv = path[len("/openapi/v3/") :].split("/")
            doc = api.openapi_v3_gv(*(gv[1:] if gv[0] == "apis" else ["", gv[-1]]))
            if doc is None:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            self.send_json(200, doc)
            return
        if path == "/apis":
            self.send_json(200, api.api_groups())
            return
        if path == "/api/v1":
            self.send_json(200, api.resource_list("", "v1"))
            return
        parts = path.split("/")[1:]
        if parts[0] == "apis" and len(parts) == 3:
            doc = api.resource_list(parts[1], parts[2])
            if not doc["resources"]:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            self.send_json(200, doc)
            return
        if parts[0] == "api" and len(parts) >= 3 and parts[1] == "v1":
            group, version, rest = "", "v1", parts[2:]
        elif parts[0] == "apis" and len(parts) >= 4:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        self.resource_request(api, user, group, version, rest, query, body)

    @staticmethod
    def check_store(api: FakeAPIServer) -> None:
        try:
            api.store.list("/registry/namespaces/default")
        except (fakelib.FakeError, OSError) as exc:
            raise ApiError(500, "InternalError", f"[-]etcd failed: {exc}") from exc

    # ---- resources ----------------------------------------------------------------------
    def resource_request(
        self,
        api: FakeAPIServer,
        user: User,
        group: str,
        version: str,
        rest: list[str],
        query: dict[str, list[str]],
        body: bytes,
    ) -> None:
        ns, name, sub = "", "", ""
        if rest[0] == "namespaces" and len(rest) >= 3 and find_resource(group, version, rest[2]):
            ns, plural = rest[1], rest[2]
            name = rest[3] if len(rest) > 3 else ""
            sub = rest[4] if len(rest) > 4 else ""
            if len(rest) > 5:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
        else:
            plural = rest[0]
            name = rest[1] if len(rest) > 1 else ""
            sub = rest[2] if len(rest) > 2 else ""
            if len(rest) > 3:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
        r = find_resource(group, version, plural)
        if r is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if r.namespaced is False and ns:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if sub and not (sub == "status" and r.status) and sub not in r.subresources:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        method = self.command
        body_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if body and body_type == "application/vnd.kubernetes.protobuf":
            try:
                body = json.dumps(fake_protobuf.decode(body)).encode()
            except KeyError as exc:
                raise ApiError(
                    415,
                    "UnsupportedMediaType",
                    f"the body of the request was in an unknown format - accepted media types include: "
                    f"application/json, application/yaml (the {FAKE_MARK} decodes protobuf only for "
                    f"{', '.join(sorted(fake_protobuf.TOP_LEVEL))}, not {exc})",
                ) from exc
            except (fake_protobuf.ProtobufError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise ApiError(400, "BadRequest", f"error decoding protobuf body: {exc}") from exc
        q = {k: v[-1] for k, v in query.items()}
        watch = q.get("watch") in ("1", "true")
        verb = {
            "GET": "watch" if watch else ("get" if name else "list"),
            "HEAD": "get",
            "POST": "create",
            "PUT": "update",
            "PATCH": "patch",
            "DELETE": "delete" if name else "deletecollection",
        }[method]
        api.authorize(user, verb, r, ns, name)
        dry_run = "dryRun" in query
        if sub == "log":
            if verb != "get":
                raise ApiError(405, "MethodNotAllowed", "only GET is allowed on pods/log")
            self.proxy_log(api, ns, name, query)
        elif sub == "scale":
            self.scale(api, r, ns, name, verb, body)
        elif sub == "binding":
            if verb != "create":
                raise ApiError(405, "MethodNotAllowed", "only POST is allowed on pods/binding")
            self.send_json(201, api.bind_pod(ns, name, self.decode(body)))
        elif verb in ("list", "watch"):
            self.do_list(api, r, ns, q, watch, name)
        elif verb == "get":
            got = api.get_obj(r, ns, name)
            if got is None:
                raise not_found(r.plural, name, r.group)
            self.send_object(r, got[0], q)
        elif verb == "create":
            if sub == "eviction":
                api.delete_obj(r, ns, name)
                self.send_json(
                    201,
                    {
                        "kind": "Status",
                        "apiVersion": "v1",
                        "metadata": {},
                        "status": "Success",
                        "code": 201,
                    },
                )
                return
            if name:
                raise ApiError(
                    405,
                    "MethodNotAllowed",
                    "the server does not allow this method on the requested resource",
                )
            obj = self.decode(body)
            self.check_identity(r, obj, ns, "")
            if dry_run:
                self.send_json(201, obj)
                return
            self.send_json(201, api.create_obj(r, ns, obj))
        elif verb == "update":
            new = self.decode(body)
            self.check_identity(r, new, ns, name)
            self.send_json(200, self.apply_update(api, r, ns, name, sub, lambda _cur: new, dry_run))
        elif verb == "patch":
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            if ctype == "application/apply-patch+yaml":
                self.send_json(200, self.server_side_apply(api, r, ns, name, sub, q, body, dry_run))
                return
            patch = self.decode(body, allow_list=ctype == "application/json-patch+json")
            patchers: dict[str, Callable[[Any, Any], Any]] = {
                "application/merge-patch+json": merge_patch,
                "application/strategic-merge-patch+json": strategic_merge_patch,
                "application/json-patch+json": json_patch,
            }
            patcher = patchers.get(ctype)
            if patcher is None:
                raise ApiError(
                    415,
                    "UnsupportedMediaType",
                    f"the body of the request was in an unknown format - accepted "
                    f"media types include: application/json-patch+json, "
                    f"application/merge-patch+json, "
                    f"application/strategic-merge-patch+json, application/apply-patch+yaml (got {ctype!r})",
                )

            def fn(cur: dict[str, Any]) -> dict[str, Any]:
                return patcher(cur, patch)

            self.send_json(200, self.apply_update(api, r, ns, name, sub, fn, dry_run))
        elif verb == "delete":
            got = api.get_obj(r, ns, name)
            if got is None:
                raise not_found(r.plural, name, r.group)
            if dry_run:
                self.send_json(200, got[0])
                return
            opts = self.decode(body) if body.strip() else {}
            policy = q.get("propagationPolicy") or opts.get("propagationPolicy") or "Background"
            if opts.get("orphanDependents") is True:
                policy = "Orphan"
            self.send_json(200, api.delete_with_policy(r, ns, name, policy))
        elif verb == "deletecollection":
            items, rev = api.list_objs(r, ns)
            deleted = []
            for obj in self.select(items, q):
                try:
                    deleted.append(
                        api.delete_obj(r, obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
                    )
                except ApiError as exc:
                    if exc.code != 404:  # deleted concurrently: already gone
                        raise
            self.send_json(
                200,
                {
                    "kind": f"{r.kind}List",
                    "apiVersion": r.api_version,
                    "metadata": {"resourceVersion": str(rev)},
                    "items": deleted,
                },
            )

    @staticmethod
    def decode(body: bytes, allow_list: bool = False) -> Any:
        try:
            obj = json.loads(body or b"null")
        except json.JSONDecodeError as exc:
            raise ApiError(400, "BadRequest", f"error decoding request body: {exc}") from exc
        if not isinstance(obj, dict) and not (allow_list and isinstance(obj, list)):
            raise ApiError(400, "BadRequest", "request body must be a JSON object")
        return obj

    @staticmethod
    def check_identity(r: ResourceType, obj: dict[str, Any], ns: str, name: str) -> None:
        if obj.get("kind") not in (None, r.kind) or obj.get("apiVersion") not in (
            None,
            r.api_version,
        ):
            raise ApiError(
                400,
                "BadRequest",
                f"the API version in the data ({obj.get('apiVersion')}) does not match "
                f"the expected API version ({r.api_version}) or kind "
                f"({obj.get('kind')} vs {r.kind})",
            )
        meta = obj.get("metadata") or {}
        if r.namespaced and meta.get("namespace") not in (None, "", ns):
            raise ApiError(
                400,
                "BadRequest",
                "the namespace of the provided object does not match the namespace sent on the request",
            )
        if name and meta.get("name") not in (None, name):
            raise ApiError(
                400,
                "BadRequest",
                f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})",
            )

    def server_side_apply(
        self,
        api: FakeAPIServer,
        r: ResourceType,
        ns: str,
        name: str,
        sub: str,
        q: dict[str, str],
        body: bytes,
        dry_run: bool,
    ) -> dict[str, Any]:
        """PATCH application/apply-patch+yaml (see fake_apply): create when missing, else merge."""
        text = body.decode("utf-8", errors="replace")
        try:
            applied = json.loads(text)
        except json.JSONDecodeError:
            try:
                applied = fakelib.yaml_load(text)
            except fakelib.YamlError as exc:
                raise ApiError(400, "BadRequest", f"error decoding YAML: {exc}") from exc
        if not isinstance(applied, dict):
            raise ApiError(400, "BadRequest", "apply patch must be an object")
        self.check_identity(r, applied, ns, name)
        manager = q.get("fieldManager", "")
        if not manager:
            raise ApiError(
                422,
                "Invalid",
                'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
                "is required for apply patch",
            )
        now = fakelib.now_rfc3339()
        if sub:
            raise ApiError(
                405,
                "MethodNotAllowed",
                f"server-side apply to {r.plural}/{sub} is not supported by the {FAKE_MARK}",
            )
        if api.get_obj(r, ns, name) is None:
            obj = fake_apply.server_side_apply(None, applied, manager, r.api_version, now)
            obj.setdefault("metadata", {})["name"] = name
            if dry_run:
                return obj
            try:
                return api.create_obj(r, ns, obj)
            except ApiError as exc:
                if exc.code != 409:
                    raise
        return self.apply_update(
            api,
            r,
            ns,
            name,
            sub,
            lambda cur: fake_apply.server_side_apply(cur, applied, manager, r.api_version, now),
            dry_run,
        )

    def scale(self, api: FakeAPIServer, r: ResourceType, ns: str, name: str, verb: str, body: bytes) -> None:
        """The scale subresource (autoscaling/v1 Scale) as upstream's ScaleREST
        (pkg/registry/apps/deployment/storage/storage.go, v1.35.0): reads and writes spec.replicas."""

        def as_scale(obj: dict[str, Any]) -> dict[str, Any]:
            meta = obj["metadata"]
            sel = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
            return {
                "kind": "Scale",
                "apiVersion": "autoscaling/v1",
                "metadata": {
                    k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion") if k in meta
                },
                "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 1)},
                "status": {
                    "replicas": (obj.get("status") or {}).get("replicas", 0),
                    "selector": ",".join(f"{k}={v}" for k, v in sorted(sel.items())),
                },
            }

        got = api.get_obj(r, ns, name)
        if got is None:
            raise not_found(r.plural, name, r.group)
        if verb == "get":
            self.send_json(200, as_scale(got[0]))
            return
        if verb not in ("update", "patch"):
            raise ApiError(
                405, "MethodNotAllowed", f"only get, update and patch are allowed on {r.plural}/scale"
            )
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        doc = self.decode(body, allow_list=ctype == "application/json-patch+json")
        current = as_scale(got[0])
        new = (
            json_patch(current, doc) if ctype == "application/json-patch+json" else merge_patch(current, doc)
        )
        replicas = int((new.get("spec") or {}).get("replicas", 0))
        if replicas < 0:
            raise ApiError(
                422, "Invalid", f'Scale.autoscaling "{name}" is invalid: spec.replicas: must be >= 0'
            )

        def set_replicas(obj: dict[str, Any]) -> dict[str, Any]:
            if obj["spec"].get("replicas") != replicas:
                obj["spec"]["replicas"] = replicas
                obj["metadata"]["generation"] = int(obj["metadata"].get("generation", 1)) + 1
            return obj

        self.send_json(200, as_scale(api.update_obj(r, ns, name, set_replicas)))

    def proxy_log(self, api: FakeAPIServer, ns: str, name: str, query: dict[str, list[str]]) -> None:
        """pods/log: stream the kubelet's /containerLogs (upstream pkg/registry/core/pod/rest/log.go
        → LogLocation). The kubelet's serving cert is not verified, as with no
        --kubelet-certificate-authority."""
        base, pod = api.kubelet_url(ns, name)
        containers = [c.get("name") for c in pod.get("spec", {}).get("containers") or []]
        container = (query.get("container") or [""])[-1]
        if not container:
            if len(containers) != 1:
                raise ApiError(
                    400,
                    "BadRequest",
                    f"a container name must be specified for pod {name}, choose one of: {containers}",
                )
            container = containers[0]
        params = {k: v[-1] for k, v in query.items() if k != "container"}
        url = f"{base}/containerLogs/{ns}/{name}/{container}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        try:
            resp = urllib.request.urlopen(url, context=ctx, timeout=30)
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace").strip()
            code = exc.code if exc.code in (400, 404) else 500
            raise ApiError(code, "BadRequest", detail or str(exc)) from exc
        except OSError as exc:
            raise ApiError(500, "InternalError", f'Get "{url}": {exc}') from exc
        with resp:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                while True:
                    chunk = resp.read1(65536) if hasattr(resp, "read1") else resp.read(65536)
                    if not chunk:
                        break
                    self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError, TimeoutError):
                self.close_connection = True

    def apply_update(
        self,
        api: FakeAPIServer,
        r: ResourceType,
        ns: str,
        name: str,
        sub: str,
        fn: Callable[[dict[str, Any]], dict[str, Any]],
        dry_run: bool,
    ) -> dict[str, Any]:
        def mutate(cur: dict[str, Any]) -> dict[str, Any]:
            new = fn(copy.deepcopy(cur))
            if not isinstance(new, dict):
                raise ApiError(422, "Invalid", "patch produced a non-object")
            if sub == "status":
                cur["status"] = new.get("status", {})
                if new.get("metadata", {}).get("resourceVersion"):
                    cur["metadata"]["resourceVersion"] = new["metadata"]["resourceVersion"]
                return cur
            if sub in ("finalize", "approval"):
                if sub == "approval":
                    cur.setdefault("status", {})["conditions"] = new.get("status", {}).get("conditions", [])
                else:
                    cur["spec"] = new.get("spec", {})
                return cur
            if r.status:
                new["status"] = cur.get("status", {})
            apply_defaults(r, new)
            if r.plural == "services":
                api.allocate_service(new, cur)
            if new.get("spec") != cur.get("spec"):
                new.setdefault("metadata", {})["generation"] = int(cur["metadata"].get("generation", 1)) + 1
            return new

        if dry_run:
            got = api.get_obj(r, ns, name)
            if got is None:
                raise not_found(r.plural, name, r.group)
            return mutate(got[0])
        return api.update_obj(r, ns, name, mutate)

    @staticmethod
    def select(items: Iterable[dict[str, Any]], q: dict[str, str]) -> list[dict[str, Any]]:
        out = []
        for obj in items:
            meta = obj.get("metadata", {})
            if q.get("labelSelector") and not match_labels(meta.get("labels") or {}, q["labelSelector"]):
                continue
            if q.get("fieldSelector") and not match_fields(obj, q["fieldSelector"]):
                continue
            out.append(obj)
        return out

    def table_version(self) -> str:
        accept = self.headers.get("Accept", "")
        for part in accept.split(","):
            params = dict(p.strip().split("=", 1) for p in part.split(";")[1:] if "=" in p)
            if params.get("as") == "Table" and params.get("g") == "meta.k8s.io":
                return params.get("v", "v1")
        return ""

    def send_object(self, r: ResourceType, obj: dict[str, Any], q: dict[str, str]) -> None:
        tv = self.table_version()
        if tv:
            self.send_json(
                200,
                to_table(
                    r.kind,
                    [obj],
                    obj["metadata"]["resourceVersion"],
                    tv,
                    q.get("includeObject", "Metadata"),
                ),
            )
            return
        self.send_json(200, obj)

    def do_list(
        self,
        api: FakeAPIServer,
        r: ResourceType,
        ns: str,
        q: dict[str, str],
        watch: bool,
        name: str,
    ) -> None:
        if name:
            q = dict(
                q,
                fieldSelector=",".join(filter(None, [q.get("fieldSelector", ""), f"metadata.name={name}"])),
            )
        if watch:
            self.do_watch(api, r, ns, q)
            return
        items, rev = api.list_objs(r, ns)
        items = self.select(items, q)
        tv = self.table_version()
        if tv:
            self.send_json(200, to_table(r.kind, items, str(rev), tv, q.get("includeObject", "Metadata")))
            return
        self.send_json(
            200,
            {
                "kind": f"{r.kind}List",
                "apiVersion": r.api_version,
                "metadata": {"resourceVersion": str(rev)},
                "items": items,
            },
        )

    def do_watch(self, api: FakeAPIServer, r: ResourceType, ns: str, q: dict[str, str]) -> None:
        """Chunked watch stream, fed by polling the store (the gateway cannot stream to us)."""
        timeout = min(float(q.get("timeoutSeconds") or 300), 1800)
        deadline = time.monotonic() + timeout
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()

        def emit(kind: str, obj: dict[str, Any]) -> None:
            line = json.dumps({"type": kind, "object": obj}).encode() + b"\n"
            self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
            self.wfile.flush()

        def snapshot() -> dict[tuple[str, str], dict[str, Any]]:
            items, _ = api.list_objs(r, ns)
            return {
                (o["metadata"].get("namespace", ""), o["metadata"]["name"]): o for o in self.select(items, q)
            }

        try:
            seen = snapshot()
            rv = q.get("resourceVersion", "")
            initial = q.get("sendInitialEvents") == "true"
            for obj in seen.values():
                if initial or rv in ("", "0") or int(obj["metadata"]["resourceVersion"]) > int(rv or 0):
                    emit("ADDED", obj)
            if initial:
                # the streaming-list contract: a bookmark annotated initial-events-end closes the
                # initial state (staging/src/k8s.io/apiserver/pkg/storage/cacher, v1.35.0)
                _, now_rev = api.list_objs(r, ns)
                emit(
                    "BOOKMARK",
                    {
                        "kind": r.kind,
                        "apiVersion": r.api_version,
                        "metadata": {
                            "resourceVersion": str(now_rev),
                            "annotations": {"k8s.io/initial-events-end": "true"},
                        },
                    },
                )
            while time.monotonic() < deadline and not api.stop_event.is_set():
                time.sleep(0.25)
                cur = snapshot()
                for key, obj in cur.items():
                    old = seen.get(key)
                    if old is None:
                        emit("ADDED", obj)
                    elif old["metadata"]["resourceVersion"] != obj["metadata"]["resourceVersion"]:
                        emit("MODIFIED", obj)
                for key, obj in seen.items():
                    if key not in cur:
                        emit("DELETED", obj)
                seen = cur
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, TimeoutError):
            self.close_connection = True


# --------------------------------------------------------------------------------------------
# standalone process: kube-apiserver's flag names
# --------------------------------------------------------------------------------------------

# The kube-apiserver flags the fake accepts: the ones sealkit's binary runtime and kubeadm's
# static pod use. Those marked "honoured" change behaviour; the others are accepted and ignored.
KUBE_APISERVER_FLAGS = [
    fakelib.Flag("advertise-address"),  # honoured
    fakelib.Flag("bind-address", default="0.0.0.0"),  # honoured
    fakelib.Flag("secure-port", "int", 6443),  # honoured
    fakelib.Flag("tls-cert-file"),  # honoured
    fakelib.Flag("tls-private-key-file"),  # honoured
    fakelib.Flag("client-ca-file"),  # honoured
    fakelib.Flag("etcd-servers", "slice", split_commas=True),  # honoured
    fakelib.Flag("etcd-cafile"),  # honoured
    fakelib.Flag("etcd-certfile"),  # honoured
    fakelib.Flag("etcd-keyfile"),  # honoured
    fakelib.Flag("etcd-prefix", default="/registry"),
    fakelib.Flag("token-auth-file"),  # honoured
    fakelib.Flag("anonymous-auth", "bool", True),  # honoured
    fakelib.Flag("enable-bootstrap-token-auth", "bool", False),  # honoured
    fakelib.Flag("service-cluster-ip-range", default="10.0.0.0/24"),  # honoured
    fakelib.Flag("allow-privileged", "bool"),
    fakelib.Flag("authorization-mode", "slice", split_commas=True),
    fakelib.Flag("enable-admission-plugins", "slice", split_commas=True),
    fakelib.Flag("disable-admission-plugins", "slice", split_commas=True),
    fakelib.Flag("kubelet-client-certificate"),
    fakelib.Flag("kubelet-client-key"),
    fakelib.Flag("kubelet-certificate-authority"),
    fakelib.Flag("kubelet-preferred-address-types", "slice", split_commas=True),
    fakelib.Flag("proxy-client-cert-file"),
    fakelib.Flag("proxy-client-key-file"),
    fakelib.Flag("requestheader-allowed-names", "slice", split_commas=True),
    fakelib.Flag("requestheader-client-ca-file"),
    fakelib.Flag("requestheader-extra-headers-prefix", "slice", split_commas=True),
    fakelib.Flag("requestheader-group-headers", "slice", split_commas=True),
    fakelib.Flag("requestheader-username-headers", "slice", split_commas=True),
    fakelib.Flag("service-account-issuer", "slice"),
    fakelib.Flag("service-account-key-file", "slice"),
    fakelib.Flag("service-account-signing-key-file"),
    fakelib.Flag("service-node-port-range"),
    fakelib.Flag("apiserver-count", "int"),
    fakelib.Flag("endpoint-reconciler-type"),
    fakelib.Flag("audit-log-path"),
    fakelib.Flag("audit-policy-file"),
    fakelib.Flag("audit-log-maxage", "int"),
    fakelib.Flag("audit-log-maxbackup", "int"),
    fakelib.Flag("audit-log-maxsize", "int"),
    fakelib.Flag("encryption-provider-config"),
    fakelib.Flag("event-ttl", "duration"),
    fakelib.Flag("feature-gates", "slice", split_commas=True),
    fakelib.Flag("runtime-config", "slice", split_commas=True),
    fakelib.Flag("profiling", "bool", True),
    fakelib.Flag("etcd-compaction-interval", "duration"),
    fakelib.Flag("etcd-count-metric-poll-period", "duration"),
    fakelib.Flag("storage-backend"),
    fakelib.Flag("storage-media-type"),
    fakelib.Flag("default-not-ready-toleration-seconds", "int"),
    fakelib.Flag("default-unreachable-toleration-seconds", "int"),
    fakelib.Flag("max-requests-inflight", "int"),
    fakelib.Flag("max-mutating-requests-inflight", "int"),
    fakelib.Flag("min-request-timeout", "int"),
    fakelib.Flag("request-timeout", "duration"),
    fakelib.Flag("goaway-chance", "string"),
    fakelib.Flag("external-hostname"),
    fakelib.Flag("cloud-provider"),
    fakelib.Flag("cloud-config"),
    fakelib.Flag("enable-aggregator-routing", "bool"),
    fakelib.Flag("enable-priority-and-fairness", "bool", True),
    fakelib.Flag("service-account-lookup", "bool", True),
    fakelib.Flag("service-account-max-token-expiration", "duration"),
    fakelib.Flag("api-audiences", "slice", split_commas=True),
    fakelib.Flag("oidc-issuer-url"),
    fakelib.Flag("oidc-client-id"),
    fakelib.Flag("oidc-username-claim"),
    fakelib.Flag("oidc-groups-claim"),
    fakelib.Flag("oidc-ca-file"),
    fakelib.Flag("authentication-config"),
    fakelib.Flag("authorization-config"),
    fakelib.Flag("authorization-webhook-config-file"),
    fakelib.Flag("authentication-token-webhook-config-file"),
    fakelib.Flag("admission-control-config-file"),
    fakelib.Flag("tls-cipher-suites", "slice", split_commas=True),
    fakelib.Flag("tls-min-version"),
    fakelib.Flag("tls-sni-cert-key", "slice"),
    fakelib.Flag("cert-dir"),
    fakelib.Flag("kubelet-timeout", "duration"),
    fakelib.Flag("kubelet-https", "bool", True),
    fakelib.Flag("kubelet-port", "int"),
    fakelib.Flag("egress-selector-config-file"),
    fakelib.Flag("shutdown-delay-duration", "duration"),
    fakelib.Flag("shutdown-send-retry-after", "bool"),
    fakelib.Flag("livez-grace-period", "duration"),
    fakelib.Flag("strict-transport-security-directives", "slice", split_commas=True),
    fakelib.Flag("watch-cache", "bool", True),
    fakelib.Flag("watch-cache-sizes", "slice", split_commas=True),
    fakelib.Flag("vmodule"),
    fakelib.Flag("log-file"),
    fakelib.Flag("v", "int", 0),
    fakelib.Flag("version", "opt"),
    fakelib.Flag("help", "bool", aliases=("h",)),
    # fake-only flags (no real counterpart): a JSON store for single-master runs, the version
    fakelib.Flag("fake-state-file"),
    fakelib.Flag("fake-version", default=DEFAULT_VERSION),
    fakelib.Flag("fake-node-monitor-grace-period", "duration", "40s"),
]


def store_from_flags(etcd_servers: list[str], ca: str, cert: str, key: str, state_file: str) -> Store:
    if etcd_servers:
        return EtcdStore(fakelib.EtcdClient(etcd_servers, ca, cert, key))
    if state_file:
        return JsonFileStore(state_file)
    raise fakelib.FakeError("--etcd-servers must be specified")


def main(argv: list[str] | None = None, version: str = "") -> int:
    """`kube-apiserver`-compatible entry point (pflag parsing, unknown flags rejected)."""
    fs = fakelib.FlagSet(KUBE_APISERVER_FLAGS)
    try:
        args = fs.parse_pflag(sys.argv[1:] if argv is None else argv)
    except fakelib.FlagError as exc:
        sys.stderr.write(f"Error: {exc}\n")
        return 1
    ver = version or args.get("fake-version")
    if args.is_set("version"):
        print(f"Kubernetes {ver} ({FAKE_MARK})")
        return 0
    if args.get("help"):
        print(f"kube-apiserver ({FAKE_MARK}) flags: " + " ".join("--" + f.name for f in KUBE_APISERVER_FLAGS))
        return 0
    try:
        for required in ("tls-cert-file", "tls-private-key-file"):
            if not args.get(required):
                raise fakelib.FakeError(f"--{required} is required ({FAKE_MARK} serves TLS only)")
        hp = fakelib.host_path
        store = store_from_flags(
            args.get("etcd-servers"),
            hp(args.get("etcd-cafile") or ""),
            hp(args.get("etcd-certfile") or ""),
            hp(args.get("etcd-keyfile") or ""),
            hp(args.get("fake-state-file") or ""),
        )
        tokens = read_token_auth_file(hp(args.get("token-auth-file"))) if args.get("token-auth-file") else {}
        cfg = APIServerConfig(
            cert_file=hp(args.get("tls-cert-file")),
            key_file=hp(args.get("tls-private-key-file")),
            client_ca_file=hp(args.get("client-ca-file") or ""),
            bind_address=args.get("bind-address"),
            secure_port=args.get("secure-port"),
            advertise_address=args.get("advertise-address") or "",
            version=ver,
            store=store,
            anonymous_auth=args.get("anonymous-auth"),
            static_tokens=tokens,
            enable_bootstrap_token_auth=args.get("enable-bootstrap-token-auth"),
            service_cluster_ip_range=args.get("service-cluster-ip-range"),
            service_node_port_range=args.get("service-node-port-range") or "30000-32767",
            node_monitor_grace_period=fakelib.parse_duration(args.get("fake-node-monitor-grace-period")),
            verbose=args.get("v") >= 4,
        )
        server = FakeAPIServer(cfg)
        stop = threading.Event()
        fakelib.install_term_handler(stop)
        wait_for_store(store, 60)
        server.start()
    except (fakelib.FakeError, OSError, ssl.SSLError) as exc:
        fakelib.klog("error", f"run: {exc}")
        return 1
    fakelib.klog(
        "info",
        f"Serving securely on {cfg.bind_address}:{cfg.secure_port} ({FAKE_MARK}, {store.describe()})",
    )
    fakelib.sd_notify("READY=1")
    stop.wait()
    server.stop()
    return 0


def wait_for_store(store: Store, timeout: float) -> None:
    """Block until the datastore answers (etcd may still be electing a leader)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            store.list("/registry/namespaces/")
            return
        except (fakelib.FakeError, OSError) as exc:
            if time.monotonic() > deadline:
                raise fakelib.FakeError(f"datastore {store.describe()} not reachable: {exc}") from exc
            time.sleep(0.5)


def free_port(host: str = "127.0.0.1") -> int:
    """A currently free TCP port on `host` (tests)."""
    with contextlib.closing(socket.socket()) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    sys.exit(main())
