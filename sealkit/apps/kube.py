"""kubectl on a master, from the controller: JSON in, parsed objects out; nothing here holds secrets.

Every command is built with shlex quoting; the API's answers are untrusted data (only read, never run).
"""

from __future__ import annotations

import json
import shlex
from typing import TYPE_CHECKING, Any

from sealkit.errors import StepFailed

if TYPE_CHECKING:
    from sealkit.context import HostRef


class Kube:
    """``kubectl`` (a full command prefix, with ``--kubeconfig``) run on ``host``."""

    def __init__(self, host: HostRef, kubectl: str, *, step: str = "apps") -> None:
        self.host = host
        self.kubectl = kubectl
        self.step = step

    def run(
        self, args: list[str], *, check: bool = True, timeout: float = 120, stdin: bytes | None = None
    ) -> Any:
        line = f"{self.kubectl} {' '.join(shlex.quote(a) for a in args)}"
        res = self.host.conn.run(line, check=False, timeout=timeout, stdin=stdin)
        if check and res.rc != 0:
            err = (res.stderr or res.stdout).strip().splitlines()[-3:]
            raise StepFailed(
                f"kubectl {' '.join(args[:3])} failed (rc={res.rc}): {' | '.join(err)}",
                host=self.host.ip,
                step=self.step,
                hint="check the cluster with `sealkit status`; is the apiserver up?",
            )
        return res

    def get(
        self, kind: str, *, namespace: str | None = None, name: str | None = None, selector: str | None = None
    ) -> dict[str, Any] | None:
        """One object (``name``; None when absent) or a List of ``kind`` as parsed JSON."""
        args = ["get", kind]
        if name:
            args.append(name)
        if namespace:
            args += ["-n", namespace]
        if selector:
            args += ["-l", selector]
        args += ["-o", "json", "--ignore-not-found"]
        out = self.run(args).stdout.strip()
        if not out:
            return None if name else {"items": []}
        try:
            data = json.loads(out)
        except json.JSONDecodeError as exc:
            raise StepFailed(
                f"kubectl get {kind} answered something that is not JSON ({exc})",
                host=self.host.ip,
                step=self.step,
            ) from None
        if not isinstance(data, dict):
            raise StepFailed(f"kubectl get {kind} answered a non-object", host=self.host.ip, step=self.step)
        return data

    def items(self, kind: str, **kw: Any) -> list[dict[str, Any]]:
        data = self.get(kind, **kw) or {}
        return [i for i in data.get("items", []) if isinstance(i, dict)]

    def logs(self, pod: str, namespace: str, container: str, *, previous: bool, tail: int = 5) -> list[str]:
        args = ["logs", pod, "-n", namespace, "-c", container, f"--tail={tail}"]
        if previous:
            args.append("--previous")
        res = self.run(args, check=False, timeout=30)
        return res.stdout.strip().splitlines()[-tail:] if res.rc == 0 else []


def meta(obj: dict[str, Any]) -> dict[str, Any]:
    m = obj.get("metadata")
    return m if isinstance(m, dict) else {}


def node_addresses(nodes: list[dict[str, Any]]) -> list[str]:
    """InternalIP of each node, in the API's order."""
    out = []
    for n in nodes:
        for a in (n.get("status") or {}).get("addresses") or []:
            if isinstance(a, dict) and a.get("type") == "InternalIP" and a.get("address"):
                out.append(str(a["address"]))
                break
    return out


def default_storage_class(classes: list[dict[str, Any]]) -> str | None:
    for sc in classes:
        ann = meta(sc).get("annotations") or {}
        if ann.get("storageclass.kubernetes.io/is-default-class") == "true":
            return str(meta(sc).get("name"))
    return None
