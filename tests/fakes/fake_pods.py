"""The fake kubelet's pod workers: run the Pods bound to this node (sealkit-contract-fake).

Never shipped. One worker thread per Pod does what the kubelet's pod worker does
(kubernetes/kubernetes v1.35.0, pkg/kubelet):

* volumes (pkg/volume/{emptydir,secret,configmap,hostpath,projected}): emptyDir, secret and
  configMap (keys or `items`, `defaultMode`, `optional`), hostPath (`DirectoryOrCreate`,
  `FileOrCreate`, `Directory`, `File`), projected secret/configMap sources, under
  <root-dir>/pods/<uid>/volumes/kubernetes.io~<plugin>/<name>; `subPath` mounts;
* env (kubelet_pods.go makeEnvironmentVariables): `envFrom` then `env`, `$(VAR)` expansion,
  `valueFrom` fieldRef/secretKeyRef/configMapKeyRef; a missing object or key (not optional) is
  CreateContainerConfigError;
* images (images/image_manager.go): pullPolicy Always/IfNotPresent/Never; a failed pull is
  ErrImagePull, then ImagePullBackOff while backing off (10 s doubling to 300 s);
* init containers in order, then the containers; restarts per restartPolicy with the crash-loop
  backoff (first restart at once, then 10 s doubling to 300 s, CrashLoopBackOff while waiting;
  reset after 10 min of running), restartCount and lastState;
* probes (prober/prober.go): startup, liveness (failure → restart), readiness (Ready and
  ContainersReady conditions) with exec, httpGet (200–399), tcpSocket; initialDelaySeconds,
  periodSeconds, timeoutSeconds, successThreshold, failureThreshold;
* status: phase, conditions, containerStatuses, hostIP/podIP (= the node's IP: pods share the
  node's network namespace here, see fake_cri), startTime;
* logs per container and restart under <root-dir>/pods/<uid>/logs/<container>/<n>.log (the real
  kubelet keeps them in /var/log/pods; here they go with the pod so a reset leaves nothing).

A deleted Pod's containers are stopped (SIGTERM, SIGKILL after terminationGracePeriodSeconds,
capped at 30 s) and removed with their snapshots; its directory is removed.
Not done: PVCs, downwardAPI volumes, resource limits, sidecar (restartable init) containers,
grpc probes (counted as success), service environment variables.
"""

from __future__ import annotations

import base64
import contextlib
import http.server
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

try:  # package import in sealkit's tests; sibling import when copied onto a host
    from . import fake_cri, fakelib
except ImportError:
    import fake_cri  # type: ignore[no-redef]
    import fakelib  # type: ignore[no-redef]

BACKOFF_INITIAL = 10.0
BACKOFF_MAX = 300.0
BACKOFF_RESET = 600.0
GRACE_CAP = 30.0

LocalCommand = Callable[[dict[str, Any]], "tuple[list[str], dict[str, str]] | None"]


class ConfigError(Exception):
    """CreateContainerConfigError / a volume that cannot be set up."""


@dataclass
class Probe:
    spec: dict[str, Any]
    started: float
    successes: int = 0
    failures: int = 0
    last: float = 0.0
    ok: bool = False

    def due(self, now: float) -> bool:
        delay = float(self.spec.get("initialDelaySeconds", 0))
        period = float(self.spec.get("periodSeconds", 10))
        return now - self.started >= delay and now - self.last >= period


@dataclass
class Container:
    spec: dict[str, Any]
    init: bool = False
    restarts: int = 0
    proc: subprocess.Popen[bytes] | None = None
    cid: str = ""
    started_at: str = ""
    started_mono: float = 0.0
    state: dict[str, Any] = field(default_factory=lambda: {"waiting": {"reason": "ContainerCreating"}})
    last_state: dict[str, Any] = field(default_factory=dict)
    next_try: float = 0.0
    crash_backoff: float = 0.0
    pull_backoff: float = 0.0
    done: bool = False
    probes: dict[str, Probe] = field(default_factory=dict)
    image_id: str = ""
    log_index: int = -1

    @property
    def name(self) -> str:
        return self.spec["name"]

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_file(self, previous: bool) -> int:
        """Which instance's log the kubelet serves (validateContainerLogStatus in
        pkg/kubelet/kubelet_pods.go, v1.35.0): the running one, else the last terminated one;
        `previous` is the instance in lastState (while waiting to restart, the last one)."""
        if not previous:
            return self.log_index
        if self.running or "terminated" in self.state:
            return self.log_index - 1 if self.last_state.get("terminated") else -1
        return self.log_index if self.last_state.get("terminated") else -1

    def ready(self) -> bool:
        if not self.running:
            return False
        startup = self.probes.get("startup")
        if startup is not None and not startup.ok:
            return False
        readiness = self.probes.get("readiness")
        return readiness.ok if readiness is not None else True


class PodWorker(threading.Thread):
    """Runs one Pod until it is deleted or (restartPolicy permitting) finished."""

    def __init__(
        self,
        pod: dict[str, Any],
        api: Any,
        ctr: fake_cri.Ctr,
        node_ip: str,
        pod_dir: str,
        local_command: LocalCommand | None = None,
    ) -> None:
        super().__init__(name=f"pod-{pod['metadata']['name']}", daemon=True)
        self.pod = pod
        self.api = api
        self.ctr = ctr
        self.node_ip = node_ip
        self.dir = pod_dir
        self.local_command = local_command
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        spec = pod.get("spec") or {}
        self.inits = [Container(c, init=True) for c in spec.get("initContainers") or []]
        self.containers = [Container(c) for c in spec.get("containers") or []]
        self.start_time = fakelib.now_rfc3339()
        self.mounts: dict[str, str] | None = None
        self.volume_error = ""
        self.last_status: dict[str, Any] | None = None

    # ---- identity --------------------------------------------------------------------------
    @property
    def ns(self) -> str:
        return self.pod["metadata"]["namespace"]

    @property
    def pod_name(self) -> str:
        return self.pod["metadata"]["name"]

    @property
    def uid(self) -> str:
        return self.pod["metadata"]["uid"]

    def log_path(self, container: str, restart: int) -> str:
        return os.path.join(self.dir, "logs", container, f"{restart}.log")

    # ---- main loop -------------------------------------------------------------------------
    def run(self) -> None:
        try:
            while not self.stop_event.is_set():
                try:
                    self.step()
                    self.report()
                except (fakelib.FakeError, OSError) as exc:
                    fakelib.klog("warning", f"pod {self.ns}/{self.pod_name}: {exc} (will retry)")
                if self.stop_event.wait(1):
                    break
        finally:
            self.teardown()

    def step(self) -> None:
        if self.mounts is None:
            try:
                self.mounts = self.setup_volumes()
                self.volume_error = ""
            except ConfigError as exc:
                self.volume_error = str(exc)
                return
        for c in self.inits:
            if c.done:
                continue
            self.drive(c)
            return  # init containers run one at a time, in order
        for c in self.containers:
            self.drive(c)
            if c.running:
                self.probe(c)

    def policy(self) -> str:
        return (self.pod.get("spec") or {}).get("restartPolicy", "Always")

    def drive(self, c: Container) -> None:
        """Start, watch and restart one container."""
        now = time.monotonic()
        if c.proc is not None and c.proc.poll() is not None:
            self.exited(c, c.proc.returncode)
        if c.running or c.done or now < c.next_try:
            if not c.running and not c.done and now < c.next_try and "terminated" in c.state:
                c.last_state = {"terminated": c.state["terminated"]}
                c.state = {
                    "waiting": {
                        "reason": "CrashLoopBackOff",
                        "message": f"back-off {int(c.crash_backoff)}s restarting failed container={c.name} "
                        f"pod={self.pod_name}_{self.ns}({self.uid})",
                    }
                }
            return
        self.start_container(c)

    def exited(self, c: Container, code: int) -> None:
        finished = fakelib.now_rfc3339()
        c.state = {
            "terminated": {
                "exitCode": code,
                "reason": "Completed" if code == 0 else "Error",
                "startedAt": c.started_at,
                "finishedAt": finished,
                "containerID": f"containerd://{c.cid}",
            }
        }
        c.proc = None
        c.probes = {}
        ran = time.monotonic() - c.started_mono
        policy = self.policy()
        if c.init and code == 0:
            c.done = True
            return
        if policy == "Never" or (policy == "OnFailure" and code == 0):
            c.done = True
            return
        if ran >= BACKOFF_RESET:
            c.crash_backoff = 0.0
        delay = c.crash_backoff
        c.crash_backoff = BACKOFF_INITIAL if not delay else min(delay * 2, BACKOFF_MAX)
        c.next_try = time.monotonic() + delay
        c.restarts += 1

    def start_container(self, c: Container) -> None:
        spec = c.spec
        image = spec.get("image", "")
        local = self.local_command(spec) if self.local_command else None
        try:
            env = self.environment(spec)
            mounts = self.container_mounts(spec)
        except ConfigError as exc:
            c.state = {"waiting": {"reason": "CreateContainerConfigError", "message": str(exc)}}
            c.next_try = time.monotonic() + BACKOFF_INITIAL
            return
        if local is None and not self.ensure_image(c, image):
            return
        if "terminated" in c.state:
            c.last_state = {"terminated": c.state["terminated"]}
        cid = f"{fake_cri.ID_PREFIX}{self.uid[:13]}-{c.name}-{c.restarts}"
        log = self.log_path(c.name, c.restarts)
        c.log_index = c.restarts
        os.makedirs(os.path.dirname(log), exist_ok=True)
        with open(log, "ab") as fh:
            if local is not None:
                argv, lenv = local
                c.proc = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=fh,
                    stderr=subprocess.STDOUT,
                    env={**lenv, **env},
                    preexec_fn=fakelib.die_with_parent,
                )
            else:
                self.ctr.remove(cid)  # a leftover of the same name from an interrupted start
                cfg = self.ctr.image_config(image)
                argv = fake_cri.container_argv(spec, cfg, env)
                c.proc = self.ctr.start(
                    cid,
                    image,
                    argv,
                    env,
                    mounts,
                    spec.get("workingDir", ""),
                    fh,
                    {"io.kubernetes.pod.uid": self.uid, "io.kubernetes.container.name": c.name},
                )
        c.cid = cid
        c.started_at = fakelib.now_rfc3339()
        c.started_mono = time.monotonic()
        c.state = {"running": {"startedAt": c.started_at}}
        now = time.monotonic()
        c.probes = {
            kind: Probe(spec[f"{kind}Probe"], now)
            for kind in ("startup", "liveness", "readiness")
            if spec.get(f"{kind}Probe")
        }
        fakelib.klog("info", f"started container {c.name} of pod {self.ns}/{self.pod_name} ({cid})")

    def ensure_image(self, c: Container, image: str) -> bool:
        policy = c.spec.get("imagePullPolicy", "IfNotPresent")
        try:
            present = self.ctr.has_image(image)
        except fakelib.FakeError as exc:
            c.state = {"waiting": {"reason": "ContainerCreating", "message": str(exc)}}
            return False
        if policy == "Never" and not present:
            c.state = {
                "waiting": {
                    "reason": "ErrImageNeverPull",
                    "message": f'Container image "{image}" is not present with pull policy of Never',
                }
            }
            return False
        if present and policy != "Always":
            return True
        try:
            self.ctr.pull(image)
        except fake_cri.PullError as exc:
            delay = c.pull_backoff
            c.pull_backoff = BACKOFF_INITIAL if not delay else min(delay * 2, BACKOFF_MAX)
            c.next_try = time.monotonic() + c.pull_backoff
            c.state = {"waiting": {"reason": "ErrImagePull", "message": str(exc)}}
            self.report()
            # between attempts the kubelet shows ImagePullBackOff
            c.state = {
                "waiting": {"reason": "ImagePullBackOff", "message": f'Back-off pulling image "{image}"'}
            }
            return False
        c.pull_backoff = 0.0
        return True

    # ---- probes ----------------------------------------------------------------------------
    def probe(self, c: Container) -> None:
        now = time.monotonic()
        startup = c.probes.get("startup")
        order = ["startup"] if startup is not None and not startup.ok else ["liveness", "readiness"]
        for kind in order:
            p = c.probes.get(kind)
            if p is None or not p.due(now):
                continue
            p.last = now
            good = self.run_probe(c, p.spec)
            if good:
                p.successes += 1
                p.failures = 0
                if p.successes >= int(p.spec.get("successThreshold", 1)):
                    p.ok = True
            else:
                p.failures += 1
                p.successes = 0
                if p.failures >= int(p.spec.get("failureThreshold", 3)):
                    p.ok = False
                    if kind in ("liveness", "startup"):
                        fakelib.klog(
                            "info", f"container {c.name} of {self.ns}/{self.pod_name} failed {kind} probe"
                        )
                        self.kill(c)
                        return

    def resolve_port(self, spec: dict[str, Any], port: Any) -> int:
        if isinstance(port, int) or (isinstance(port, str) and port.isdigit()):
            return int(port)
        for p in spec.get("ports") or []:
            if p.get("name") == port:
                return int(p["containerPort"])
        raise ConfigError(f"port {port!r} not found in container ports")

    def run_probe(self, c: Container, probe: dict[str, Any]) -> bool:
        timeout = float(probe.get("timeoutSeconds", 1))
        try:
            if "exec" in probe:
                return self.ctr.exec(c.cid, list(probe["exec"].get("command") or []), timeout + 5) == 0
            if "tcpSocket" in probe:
                port = self.resolve_port(c.spec, probe["tcpSocket"].get("port"))
                host = probe["tcpSocket"].get("host") or self.node_ip
                with socket.create_connection((host, port), timeout=timeout):
                    return True
            if "httpGet" in probe:
                hg = probe["httpGet"]
                port = self.resolve_port(c.spec, hg.get("port"))
                host = hg.get("host") or self.node_ip
                url = f"{hg.get('scheme', 'HTTP').lower()}://{host}:{port}{hg.get('path', '/')}"
                req = urllib.request.Request(
                    url, headers={h["name"]: h["value"] for h in hg.get("httpHeaders") or []}
                )
                try:
                    with urllib.request.urlopen(req, timeout=timeout) as resp:
                        return 200 <= resp.status < 400
                except urllib.error.HTTPError as exc:
                    return 200 <= exc.code < 400
            return True  # grpc: not emulated
        except (OSError, ConfigError, subprocess.SubprocessError):
            return False

    # ---- stop ------------------------------------------------------------------------------
    def kill(self, c: Container, grace: float = GRACE_CAP) -> None:
        if c.proc is None:
            return
        if self.local_command and self.local_command(c.spec) is not None:
            fakelib.stop_child(c.proc, grace)  # type: ignore[arg-type]
        else:
            self.ctr.signal(c.cid, "SIGTERM")
            try:
                c.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.ctr.signal(c.cid, "SIGKILL")
                with contextlib.suppress(subprocess.TimeoutExpired):
                    c.proc.wait(30)
            self.ctr.remove(c.cid)
        if c.proc is not None and c.proc.poll() is not None:
            self.exited(c, c.proc.returncode)

    def stop(self) -> None:
        self.stop_event.set()

    def teardown(self) -> None:
        grace = min(float((self.pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30)), GRACE_CAP)
        for c in [*self.containers, *self.inits]:
            if c.proc is not None and c.proc.poll() is None:
                self.kill(c, grace)
            elif c.cid:
                self.ctr.remove(c.cid)
        shutil.rmtree(self.dir, ignore_errors=True)
        fakelib.klog("info", f"pod {self.ns}/{self.pod_name} stopped and cleaned up")

    # ---- config: env and volumes -----------------------------------------------------------
    def get_obj(self, kind: str, name: str, optional: bool) -> dict[str, Any] | None:
        plural = {"ConfigMap": "configmaps", "Secret": "secrets"}[kind]
        try:
            return self.api.request("GET", f"/api/v1/namespaces/{self.ns}/{plural}/{name}")
        except fakelib.HTTPStatusError as exc:
            if exc.status != 404:
                raise
        if optional:
            return None
        raise ConfigError(f'{kind.lower()} "{name}" not found')

    @staticmethod
    def obj_data(kind: str, obj: dict[str, Any]) -> dict[str, bytes]:
        if kind == "Secret":
            return {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}
        out = {k: str(v).encode() for k, v in (obj.get("data") or {}).items()}
        out.update({k: base64.b64decode(v) for k, v in (obj.get("binaryData") or {}).items()})
        return out

    def field_ref(self, path: str) -> str:
        meta = self.pod["metadata"]
        simple = {
            "metadata.name": meta.get("name", ""),
            "metadata.namespace": meta.get("namespace", ""),
            "metadata.uid": meta.get("uid", ""),
            "spec.nodeName": (self.pod.get("spec") or {}).get("nodeName", ""),
            "spec.serviceAccountName": (self.pod.get("spec") or {}).get("serviceAccountName", "default"),
            "status.hostIP": self.node_ip,
            "status.hostIPs": self.node_ip,
            "status.podIP": self.node_ip,
            "status.podIPs": self.node_ip,
        }
        if path in simple:
            return simple[path]
        for prefix, src in (("metadata.labels", "labels"), ("metadata.annotations", "annotations")):
            if path.startswith(prefix + "['") and path.endswith("']"):
                return (meta.get(src) or {}).get(path[len(prefix) + 2 : -2], "")
        raise ConfigError(f"unsupported fieldRef {path!r}")

    def environment(self, spec: dict[str, Any]) -> dict[str, str]:
        env: dict[str, str] = {}
        for src in spec.get("envFrom") or []:
            prefix = src.get("prefix", "")
            for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                ref = src.get(key)
                if ref:
                    obj = self.get_obj(kind, ref.get("name", ""), bool(ref.get("optional")))
                    for k, v in self.obj_data(kind, obj or {}).items():
                        env[prefix + k] = v.decode(errors="replace")
        for e in spec.get("env") or []:
            name = e["name"]
            if "value" in e or "valueFrom" not in e:
                env[name] = fake_cri.expand(str(e.get("value", "")), env)
                continue
            vf = e["valueFrom"]
            if "fieldRef" in vf:
                env[name] = self.field_ref(vf["fieldRef"].get("fieldPath", ""))
            elif "resourceFieldRef" in vf:
                env[name] = "0"
            else:
                kind, ref = (
                    ("Secret", vf.get("secretKeyRef"))
                    if "secretKeyRef" in vf
                    else ("ConfigMap", vf.get("configMapKeyRef"))
                )
                ref = ref or {}
                obj = self.get_obj(kind, ref.get("name", ""), bool(ref.get("optional")))
                if obj is None:
                    continue
                data = self.obj_data(kind, obj)
                if ref.get("key") not in data:
                    if ref.get("optional"):
                        continue
                    raise ConfigError(
                        f"couldn't find key {ref.get('key')} in {kind} {self.ns}/{ref.get('name')}"
                    )
                env[name] = data[ref["key"]].decode(errors="replace")
        return env

    def setup_volumes(self) -> dict[str, str]:
        """Volume name → host directory (or file), prepared before any container starts."""
        out: dict[str, str] = {}
        for vol in (self.pod.get("spec") or {}).get("volumes") or []:
            name = vol["name"]
            if "hostPath" in vol:
                out[name] = self.host_path(vol["hostPath"])
                continue
            plugin = next((k for k in ("emptyDir", "secret", "configMap", "projected") if k in vol), "")
            if not plugin:
                raise ConfigError(
                    f"volume {name!r}: only emptyDir, secret, configMap, projected and hostPath "
                    f"volumes are run by the {fakelib.FAKE_MARK}"
                )
            d = os.path.join(
                self.dir, "volumes", f"kubernetes.io~{plugin.lower().replace('emptydir', 'empty-dir')}", name
            )
            os.makedirs(d, exist_ok=True)
            if plugin == "secret":
                src = vol["secret"]
                self.write_items(d, "Secret", src.get("secretName", ""), src, src.get("defaultMode", 0o644))
            elif plugin == "configMap":
                src = vol["configMap"]
                self.write_items(d, "ConfigMap", src.get("name", ""), src, src.get("defaultMode", 0o644))
            elif plugin == "projected":
                mode = vol["projected"].get("defaultMode", 0o644)
                for source in vol["projected"].get("sources") or []:
                    if "secret" in source:
                        self.write_items(
                            d, "Secret", source["secret"].get("name", ""), source["secret"], mode
                        )
                    elif "configMap" in source:
                        self.write_items(
                            d, "ConfigMap", source["configMap"].get("name", ""), source["configMap"], mode
                        )
            out[name] = d
        return out

    def write_items(self, d: str, kind: str, name: str, src: dict[str, Any], mode: int) -> None:
        obj = self.get_obj(kind, name, bool(src.get("optional")))
        if obj is None:
            return
        data = self.obj_data(kind, obj)
        items = src.get("items") or [{"key": k, "path": k} for k in data]
        for item in items:
            if item["key"] not in data:
                if src.get("optional"):
                    continue
                raise ConfigError(f"configmap/secret {name}: key {item['key']} not found")
            rel = os.path.normpath(item.get("path", item["key"]))
            if rel.startswith(("..", "/")):
                raise ConfigError(f"{kind} {name}: item path {item.get('path')!r} leaves the volume")
            fakelib.write_file(os.path.join(d, rel), data[item["key"]], int(item.get("mode", mode)))

    @staticmethod
    def host_path(hp: dict[str, Any]) -> str:
        path, kind = hp.get("path", ""), hp.get("type", "")
        if kind == "DirectoryOrCreate":
            os.makedirs(path, mode=0o755, exist_ok=True)
        elif kind == "FileOrCreate" and not os.path.exists(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            fakelib.write_file(path, b"", 0o644)
        elif kind == "Directory" and not os.path.isdir(path):
            raise ConfigError(f"hostPath type check failed: {path} is not a directory")
        elif kind == "File" and not os.path.isfile(path):
            raise ConfigError(f"hostPath type check failed: {path} is not a file")
        return path

    def container_mounts(self, spec: dict[str, Any]) -> list[tuple[str, str, bool]]:
        out = []
        for m in spec.get("volumeMounts") or []:
            src = (self.mounts or {}).get(m.get("name", ""))
            if src is None:
                raise ConfigError(f"volumeMount {m.get('name')!r} names no volume of the pod")
            if m.get("subPath"):
                src = os.path.join(src, os.path.normpath(m["subPath"]).lstrip("/"))
                if not os.path.exists(src):
                    os.makedirs(src, exist_ok=True)
            out.append((src, m["mountPath"], bool(m.get("readOnly"))))
        return out

    # ---- status ----------------------------------------------------------------------------
    def container_status(self, c: Container) -> dict[str, Any]:
        st: dict[str, Any] = {
            "name": c.name,
            "image": c.spec.get("image", ""),
            "imageID": c.image_id,
            "ready": c.ready(),
            "restartCount": c.restarts,
            "started": c.running,
            "state": c.state,
            "lastState": c.last_state,
        }
        if c.cid:
            st["containerID"] = f"containerd://{c.cid}"
        if self.volume_error and not c.cid:
            st["state"] = {"waiting": {"reason": "ContainerCreating"}}
        return st

    def compute_status(self) -> dict[str, Any]:
        mains = self.containers
        inits_done = all(c.done for c in self.inits)
        all_ready = inits_done and all(c.ready() for c in mains)
        terminated = [c for c in mains if "terminated" in c.state and c.done]
        policy = self.policy()
        if mains and len(terminated) == len(mains) and policy != "Always":
            codes = [c.state["terminated"]["exitCode"] for c in terminated]
            phase = "Succeeded" if all(code == 0 for code in codes) else "Failed"
        elif inits_done and any(c.cid for c in mains):
            phase = "Running"
        else:
            phase = "Pending"
        old_conds = {c.get("type"): c for c in (self.pod.get("status") or {}).get("conditions") or []}

        def cond(kind: str, ok: bool, reason: str = "") -> dict[str, Any]:
            status = "True" if ok else "False"
            old = old_conds.get(kind) or {}
            since = old.get("lastTransitionTime") if old.get("status") == status else None
            out = {"type": kind, "status": status, "lastTransitionTime": since or fakelib.now_rfc3339()}
            if reason and not ok:
                out["reason"] = reason
            return out

        conditions = [
            cond("PodReadyToStartContainers", self.mounts is not None),
            cond("Initialized", inits_done, "ContainersNotInitialized"),
            cond("Ready", all_ready, "ContainersNotReady"),
            cond("ContainersReady", all_ready, "ContainersNotReady"),
            old_conds.get("PodScheduled") or cond("PodScheduled", True),
        ]
        status: dict[str, Any] = {
            "phase": phase,
            "conditions": conditions,
            "hostIP": self.node_ip,
            "hostIPs": [{"ip": self.node_ip}],
            "podIP": self.node_ip,
            "podIPs": [{"ip": self.node_ip}],
            "startTime": self.start_time,
            "qosClass": "BestEffort",
            "containerStatuses": [self.container_status(c) for c in mains],
        }
        if self.inits:
            status["initContainerStatuses"] = [self.container_status(c) for c in self.inits]
        if self.volume_error:
            status["message"] = self.volume_error
        return status

    def report(self) -> None:
        with self.lock:
            status = self.compute_status()
            if status == self.last_status:
                return
            try:
                self.api.request(
                    "PATCH",
                    f"/api/v1/namespaces/{self.ns}/pods/{self.pod_name}/status",
                    {"status": status},
                    content_type="application/merge-patch+json",
                )
            except fakelib.HTTPStatusError as exc:
                if exc.status == 404:
                    self.stop_event.set()
                    return
                raise
            self.last_status = status
            self.pod["status"] = status


class PodRunner:
    """The pods bound to one node: a worker per Pod, stopped when the Pod leaves the API."""

    def __init__(
        self,
        api: Any,
        node: str,
        node_ip: str,
        root_dir: str,
        ctr: fake_cri.Ctr,
        local_command: LocalCommand | None = None,
    ) -> None:
        self.api = api
        self.node = node
        self.node_ip = node_ip
        self.root_dir = root_dir
        self.ctr = ctr
        self.local_command = local_command
        self.workers: dict[str, PodWorker] = {}
        self.cleaned = False

    def sync(self) -> None:
        if not self.cleaned:
            for cid in self.ctr.ours():
                fakelib.klog("info", f"removing container {cid} left by a previous kubelet")
                self.ctr.remove(cid)
            self.cleaned = True
        pods = (
            self.api.request("GET", f"/api/v1/pods?fieldSelector=spec.nodeName%3D{self.node}").get("items")
            or []
        )
        live = {}
        for pod in pods:
            ann = pod["metadata"].get("annotations") or {}
            if "kubernetes.io/config.mirror" in ann or pod["metadata"].get("deletionTimestamp"):
                continue
            live[pod["metadata"]["uid"]] = pod
        for uid, pod in live.items():
            if uid not in self.workers:
                w = PodWorker(
                    pod,
                    self.api,
                    self.ctr,
                    self.node_ip,
                    os.path.join(self.root_dir, "pods", uid),
                    self.local_command,
                )
                self.workers[uid] = w
                w.start()
        for uid in [u for u in self.workers if u not in live]:
            self.workers.pop(uid).stop()

    def find(self, ns: str, name: str) -> PodWorker | None:
        return next(
            (w for w in self.workers.values() if w.ns == ns and w.pod_name == name),
            None,
        )

    def stop_all(self, wait: float = 60) -> None:
        for w in self.workers.values():
            w.stop()
        deadline = time.monotonic() + wait
        for w in self.workers.values():
            w.join(max(deadline - time.monotonic(), 0.1))


class _LogHandler(http.server.BaseHTTPRequestHandler):
    """GET /containerLogs/<ns>/<pod>/<container> (the kubelet server's log endpoint)."""

    server: KubeletServer

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        parsed = urllib.parse.urlsplit(self.path)
        parts = parsed.path.strip("/").split("/")
        q = {k: v[-1] for k, v in urllib.parse.parse_qs(parsed.query).items()}
        if len(parts) != 4 or parts[0] != "containerLogs":
            self.send_error(404, "not found")
            return
        _, ns, name, container = parts
        worker = self.server.runner.find(ns, name)
        c = None
        if worker is not None:
            c = next((x for x in [*worker.containers, *worker.inits] if x.name == container), None)
        if worker is None or c is None:
            self.send_error(404, f"container {container} in pod {ns}/{name} not found")
            return
        previous = q.get("previous") in ("true", "1")
        restart = c.log_file(previous)
        path = worker.log_path(container, restart)
        if restart < 0 or not os.path.exists(path):
            msg = (
                f'previous terminated container "{container}" in pod "{name}" not found'
                if previous
                else f'container "{container}" in pod "{name}" is waiting to start'
            )
            self.send_error(400, msg)
            return
        with open(path, "rb") as fh:
            data = fh.read()
            if q.get("tailLines"):
                lines = data.splitlines(keepends=True)
                data = b"".join(lines[-int(q["tailLines"]) :]) if int(q["tailLines"]) else b""
            if q.get("limitBytes"):
                data = data[: int(q["limitBytes"])]
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                self.chunk(data)
                while q.get("follow") in ("true", "1") and not worker.stop_event.is_set():
                    more = fh.read()
                    if more:
                        self.chunk(more)
                    elif not c.running or c.log_index != restart:
                        break
                    else:
                        time.sleep(0.5)
                self.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                self.close_connection = True

    def chunk(self, data: bytes) -> None:
        if data:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()


class KubeletServer(http.server.ThreadingHTTPServer):
    """The kubelet's HTTPS port (10250) for logs, with a self-signed serving certificate as the
    kubelet makes in --cert-dir when it is given none (pkg/kubelet/apis/config defaults)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], runner: PodRunner, cert: str, key: str) -> None:
        self.runner = runner
        super().__init__(addr, _LogHandler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.socket = ctx.wrap_socket(self.socket, server_side=True)

    @classmethod
    def serve(cls, addr: tuple[str, int], runner: PodRunner, cert_dir: str, node: str) -> KubeletServer:
        cert, key = os.path.join(cert_dir, "kubelet.crt"), os.path.join(cert_dir, "kubelet.key")
        if not (os.path.exists(cert) and os.path.exists(key)):
            os.makedirs(cert_dir, mode=0o700, exist_ok=True)
            fakelib.make_ca(cert, key, f"{node}@{int(time.time())}", days=365)
        srv = cls(addr, runner, cert, key)
        threading.Thread(target=srv.serve_forever, name="kubelet-server", daemon=True).start()
        return srv
