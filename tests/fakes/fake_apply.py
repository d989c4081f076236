"""Patch semantics of the kube-apiserver CONTRACT FAKE (sealkit-contract-fake): never ship this.

Why a module of its own: the real `kubectl apply` (client-side, a three-way strategic merge patch),
`kubectl apply --server-side` and helm 4 (server-side apply, `application/apply-patch+yaml`) all
depend on how the server merges lists. Upstream facts used (kubernetes/kubernetes, v1.35.0):

* merge keys of lists are the `patchMergeKey` struct tags in staging/src/k8s.io/api/core/v1/types.go
  and apps/v1/types.go (containers/initContainers/env/volumes/imagePullSecrets by `name`, container
  ports by `containerPort`, service ports by `port`, volumeMounts by `mountPath`, ownerReferences
  by `uid`, conditions by `type`); a list without one is atomic (replaced whole);
* strategic merge directives (`$patch: replace|delete`, `$setElementOrder/<f>`, `$retainKeys`,
  `$deleteFromPrimitiveList/<f>`) are documented in
  staging/src/k8s.io/apimachinery/pkg/util/strategicpatch/patch.go;
* server-side apply (staging/src/k8s.io/apiserver/pkg/endpoints/handlers/fieldmanager, with
  sigs.k8s.io/structured-merge-diff): the applied configuration is merged into the live object,
  fields the same manager applied before but omits now are removed, the manager's field set is
  recorded in `metadata.managedFields` as `FieldsV1` (`f:<name>`, `k:{<merge key json>}`), an
  apply to a missing object creates it, and `fieldManager` is required for apply patches.

Deviations: no conflict detection between managers (every apply behaves as `--force-conflicts`),
no managedFields for non-apply writes, no schema (unknown fields are kept, not rejected).
"""

from __future__ import annotations

import copy
import json
from typing import Any

# field name → merge key, by the upstream struct tags; "containerPort" beats "port" on shape
_MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "imagePullSecrets": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "ownerReferences": "uid",
    "conditions": "type",
    "addresses": "type",
    "hostAliases": "ip",
    "ports": "port",
}


def merge_key(field_name: str, items: list[Any]) -> str:
    """The merge key of a list field, "" when the list is atomic."""
    key = _MERGE_KEYS.get(field_name, "")
    if field_name == "ports" and any(isinstance(i, dict) and "containerPort" in i for i in items):
        return "containerPort"
    return key


def strategic_merge_patch(target: Any, patch: Any, field_name: str = "") -> Any:
    """Apply a strategic merge patch as apimachinery's strategicpatch does for built-in types."""
    if isinstance(patch, list):
        key = merge_key(field_name, [*patch, *(target if isinstance(target, list) else [])])
        if not key or not isinstance(target, list):
            return [
                {k: v for k, v in p.items() if not k.startswith("$")} if isinstance(p, dict) else p
                for p in copy.deepcopy(patch)
                if not (isinstance(p, dict) and p.get("$patch") == "delete")
            ]
        result = [copy.deepcopy(t) for t in target]
        for item in patch:
            if not isinstance(item, dict) or key not in item:
                continue
            idx = next(
                (i for i, t in enumerate(result) if isinstance(t, dict) and t.get(key) == item[key]),
                None,
            )
            if item.get("$patch") == "delete":
                if idx is not None:
                    result.pop(idx)
            elif idx is None:
                result.append(strategic_merge_patch({}, item))
            else:
                result[idx] = strategic_merge_patch(result[idx], item)
        return result
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: v for k, v in patch.items() if not k.startswith("$")}
    result = dict(target) if isinstance(target, dict) else {}
    retain = patch.get("$retainKeys")
    for key, value in patch.items():
        if key.startswith("$deleteFromPrimitiveList/"):
            name = key.split("/", 1)[1]
            if isinstance(result.get(name), list):
                result[name] = [v for v in result[name] if v not in value]
            continue
        if key.startswith("$"):
            continue
        if value is None:
            result.pop(key, None)
        else:
            result[key] = strategic_merge_patch(result.get(key), value, key)
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


# ---- server-side apply ------------------------------------------------------------------------

Path = tuple[str, ...]


def field_set(obj: Any, prefix: Path = ()) -> set[Path]:
    """The leaf paths an applied configuration sets, in FieldsV1 element names."""
    out: set[Path] = set()
    if isinstance(obj, dict):
        for k, v in obj.items():
            if not prefix and k in ("apiVersion", "kind"):
                continue
            p = (*prefix, f"f:{k}")
            if (isinstance(v, dict) and v) or (isinstance(v, list) and merge_key(k, v)):
                out |= field_set_of(k, v, p)
            else:
                out.add(p)
    return out


def field_set_of(name: str, value: Any, p: Path) -> set[Path]:
    if isinstance(value, list):
        key = merge_key(name, value)
        out: set[Path] = {p}
        for item in value:
            if isinstance(item, dict) and key in item:
                ip = (*p, "k:" + json.dumps({key: item[key]}, separators=(",", ":")))
                out.add(ip)
                out |= field_set(item, ip)
        return out
    return {p, *field_set(value, p)}


def encode_fields(paths: set[Path]) -> dict[str, Any]:
    """FieldsV1 JSON: nested objects, "." marks a set that is itself owned."""
    root: dict[str, Any] = {}
    for path in sorted(paths):
        node = root
        for part in path:
            node = node.setdefault(part, {})
    return root


def decode_fields(doc: dict[str, Any], prefix: Path = ()) -> set[Path]:
    out: set[Path] = set()
    for k, v in doc.items():
        if k == ".":
            continue
        p = (*prefix, k)
        out.add(p)
        if isinstance(v, dict):
            out |= decode_fields(v, p)
    return out


def _ssa_merge(live: Any, applied: Any, name: str = "") -> Any:
    if isinstance(applied, dict) and isinstance(live, dict):
        out = dict(live)
        for k, v in applied.items():
            out[k] = _ssa_merge(live.get(k), v, k)
        return out
    if isinstance(applied, list) and isinstance(live, list):
        key = merge_key(name, [*applied, *live])
        if key:
            out_list = [copy.deepcopy(i) for i in live]
            for item in applied:
                if not isinstance(item, dict) or key not in item:
                    continue
                idx = next(
                    (i for i, t in enumerate(out_list) if isinstance(t, dict) and t.get(key) == item[key]),
                    None,
                )
                if idx is None:
                    out_list.append(copy.deepcopy(item))
                else:
                    out_list[idx] = _ssa_merge(out_list[idx], item)
            return out_list
    return copy.deepcopy(applied)


def _remove(obj: Any, path: Path) -> None:
    """Remove the element a FieldsV1 path names (a key of a map or an item of a keyed list)."""
    node = obj
    for part in path[:-1]:
        node = _step(node, part)
        if node is None:
            return
    last = path[-1]
    if last.startswith("f:") and isinstance(node, dict):
        node.pop(last[2:], None)
    elif last.startswith("k:") and isinstance(node, list):
        want = json.loads(last[2:])
        node[:] = [
            i for i in node if not (isinstance(i, dict) and all(i.get(k) == v for k, v in want.items()))
        ]


def _step(node: Any, part: str) -> Any:
    if part.startswith("f:") and isinstance(node, dict):
        return node.get(part[2:])
    if part.startswith("k:") and isinstance(node, list):
        want = json.loads(part[2:])
        return next(
            (i for i in node if isinstance(i, dict) and all(i.get(k) == v for k, v in want.items())), None
        )
    return None


def server_side_apply(
    live: dict[str, Any] | None, applied: dict[str, Any], manager: str, api_version: str, now: str
) -> dict[str, Any]:
    """The object after `manager` applies `applied` to `live` (None: the object is created)."""
    if not manager:
        raise ValueError("fieldManager is required for apply patch")
    mine = field_set({k: v for k, v in applied.items() if k != "status"})
    base = copy.deepcopy(live) if live is not None else {}
    entries = (base.get("metadata") or {}).get("managedFields") or []
    before: set[Path] = set()
    others: set[Path] = set()
    for e in entries:
        got = decode_fields(e.get("fieldsV1") or {})
        if e.get("manager") == manager and e.get("operation") == "Apply":
            before |= got
        else:
            others |= got
    merged = _ssa_merge(base, {k: v for k, v in applied.items() if k != "status"})
    gone = {p for p in before - mine - others if not any(o[: len(p)] == p for o in mine)}
    # remove the outermost element only: a removed list item takes its fields with it
    for path in sorted(gone, key=len):
        if not any(path[:i] in gone for i in range(1, len(path))):
            _remove(merged, path)
    entry = {
        "manager": manager,
        "operation": "Apply",
        "apiVersion": api_version,
        "time": now,
        "fieldsType": "FieldsV1",
        "fieldsV1": encode_fields(mine),
    }
    kept = [e for e in entries if not (e.get("manager") == manager and e.get("operation") == "Apply")]
    merged.setdefault("metadata", {})["managedFields"] = [*kept, entry]
    return merged
