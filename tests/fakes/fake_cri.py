"""The fake kubelet's container runtime: the host's REAL containerd through `ctr` (sealkit-contract-fake).

Never shipped. A real kubelet talks CRI to containerd; the CRI plugin pulls through the registry
mirrors of `config_path` (certs.d/<registry>/hosts.toml) with the credentials of
`registry.configs."<host>".auth`, both in /etc/containerd/config.toml. `ctr` does not read the
CRI config, so this module reads the same two settings and hands them to `ctr images pull
--hosts-dir … --user …` — an image the mirror does not have fails exactly as CRI's pull would.
Containers run in the `k8s.io` namespace (the CRI plugin's), in the node's network namespace
(`--net-host`: pods share the node's IP; there is no CNI), with `ctr run --rm` in the foreground
so the process's exit status is the container's and its stdout/stderr are the container log.

Command semantics are the kubelet's (pkg/kubelet/kuberuntime/kuberuntime_container.go and
pkg/kubelet/container/helpers.go, v1.35.0): `command` replaces the image ENTRYPOINT, `args`
replace CMD; `args` alone run after the ENTRYPOINT; `$(VAR)` expands from the container env.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any

try:  # package import in sealkit's tests; sibling import when copied onto a host
    from . import fakelib
except ImportError:
    import fakelib  # type: ignore[no-redef]

try:
    import tomllib
except ImportError:  # pragma: no cover - Debian 12's python3 is 3.11
    tomllib = None  # type: ignore[assignment]

NAMESPACE = "k8s.io"
ID_PREFIX = "sealkit-fake-"
CRI_PLUGINS = ("io.containerd.grpc.v1.cri", "io.containerd.cri.v1.images")


class PullError(Exception):
    """The image could not be pulled (the kubelet reports ErrImagePull / ImagePullBackOff)."""


def normalize_image(ref: str) -> str:
    """docker.io/library/x:latest for `x` (the reference normalization of distribution/reference)."""
    name, _, digest = ref.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = ""
    if ":" in last:
        name, tag = name.rsplit(":", 1)
    first = name.split("/", 1)[0]
    if "/" not in name or not ("." in first or ":" in first or first == "localhost"):
        name = "docker.io/" + (name if "/" in name else "library/" + name)
    if digest:
        return f"{name}@{digest}"
    return f"{name}:{tag or 'latest'}"


@dataclass
class RegistryConfig:
    """What containerd's CRI plugin uses to pull: the hosts dir and per-host credentials."""

    hosts_dir: str = ""
    auths: dict[str, tuple[str, str]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str) -> RegistryConfig:
        """The registry settings of `path` and of the files its `imports` name, merged as containerd
        merges imported configs (containerd services/server/config/config.go LoadConfig, v1.6.20:
        imports are globbed, relative to the file's directory, and loaded after it, so a later file's
        value wins; each file is read once)."""
        out = cls()
        if tomllib is None:
            return out
        seen: set[str] = set()
        todo = [path]
        while todo:
            current = todo.pop(0)
            if current in seen or not os.path.exists(current):
                continue
            seen.add(current)
            with open(current, "rb") as fh:
                doc = tomllib.load(fh)
            out._merge(doc)
            for pattern in doc.get("imports") or []:
                full = os.path.join(os.path.dirname(current), fakelib.host_path(str(pattern)))
                todo += sorted(glob.glob(full)) if any(ch in full for ch in "*?[") else [full]
        return out

    def _merge(self, doc: dict[str, Any]) -> None:
        for plugin in CRI_PLUGINS:
            reg = ((doc.get("plugins") or {}).get(plugin) or {}).get("registry") or {}
            self.hosts_dir = (
                fakelib.host_path(reg["config_path"]) if reg.get("config_path") else self.hosts_dir
            )
            for host, conf in (reg.get("configs") or {}).items():
                auth = (conf or {}).get("auth") or {}
                if auth.get("username"):
                    self.auths[host] = (auth["username"], auth.get("password", ""))

    def credentials_for(self, image: str) -> tuple[str, str] | None:
        """The auth of the first mirror host listed for the image's registry (or _default)."""
        registry = normalize_image(image).split("/", 1)[0]
        for name in (registry, "_default"):
            hosts = os.path.join(self.hosts_dir, name, "hosts.toml") if self.hosts_dir else ""
            if not hosts or not os.path.exists(hosts) or tomllib is None:
                continue
            with open(hosts, "rb") as fh:
                doc = tomllib.load(fh)
            for url in [*(doc.get("host") or {}).keys(), doc.get("server", "")]:
                host = re.sub(r"^https?://", "", url).split("/", 1)[0]
                if host in self.auths:
                    return self.auths[host]
        return None


class Ctr:
    """`ctr` against one containerd socket, in the CRI namespace."""

    def __init__(
        self, address: str, config_path: str = "/etc/containerd/config.toml", ctr: str = "ctr"
    ) -> None:
        self.address = address
        self.config_path = config_path
        self.ctr = ctr
        self._configs: dict[str, dict[str, Any]] = {}

    def base(self) -> list[str]:
        return [self.ctr, "--address", self.address, "--namespace", NAMESPACE]

    def run_ctr(self, *args: str, timeout: float = 120) -> str:
        proc = subprocess.run(
            [*self.base(), *args], capture_output=True, text=True, timeout=timeout, check=False
        )
        if proc.returncode != 0:
            raise fakelib.FakeError(f"ctr {' '.join(args[:2])}: {(proc.stderr or proc.stdout).strip()}")
        return proc.stdout

    def available(self) -> bool:
        return os.path.exists(self.address)

    def has_image(self, ref: str) -> bool:
        out = self.run_ctr("images", "ls", "-q")
        return normalize_image(ref) in out.split()

    def pull(self, ref: str, timeout: float = 180) -> None:
        """Pull as the CRI plugin would: through config_path's hosts.toml, with its credentials."""
        ref = normalize_image(ref)
        reg = RegistryConfig.load(self.config_path)
        args = ["images", "pull"]
        if reg.hosts_dir:
            args += ["--hosts-dir", reg.hosts_dir]
        creds = reg.credentials_for(ref)
        if creds:
            args += ["--user", f"{creds[0]}:{creds[1]}"]
        try:
            proc = subprocess.run(
                [*self.base(), *args, ref], capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise PullError(
                f'failed to pull and unpack image "{ref}": timed out after {timeout:.0f}s'
            ) from exc
        if proc.returncode != 0:
            err = (proc.stderr or proc.stdout).strip().splitlines()
            raise PullError(f'failed to pull and unpack image "{ref}": {err[-1] if err else "ctr failed"}')
        self._configs.pop(ref, None)

    def image_config(self, ref: str) -> dict[str, Any]:
        """The OCI image config (`config` of the image config blob): Entrypoint, Cmd, Env …"""
        ref = normalize_image(ref)
        if ref in self._configs:
            return self._configs[ref]
        digest = ""
        for line in self.run_ctr("images", "ls").splitlines()[1:]:
            cols = line.split()
            if cols and cols[0] == ref:
                digest = next((c for c in cols if c.startswith("sha256:")), "")
        if not digest:
            raise fakelib.FakeError(f"image {ref} is not in containerd")
        doc = json.loads(self.run_ctr("content", "get", digest))
        if "manifests" in doc:
            pick = next(
                (
                    m
                    for m in doc["manifests"]
                    if (m.get("platform") or {}).get("architecture") in ("amd64", None)
                    and (m.get("platform") or {}).get("os", "linux") == "linux"
                ),
                doc["manifests"][0],
            )
            doc = json.loads(self.run_ctr("content", "get", pick["digest"]))
        cfg = json.loads(self.run_ctr("content", "get", doc["config"]["digest"])).get("config") or {}
        self._configs[ref] = cfg
        return cfg

    def start(
        self,
        cid: str,
        image: str,
        argv: list[str],
        env: dict[str, str],
        mounts: list[tuple[str, str, bool]],
        cwd: str,
        log: Any,
        labels: dict[str, str],
    ) -> subprocess.Popen[bytes]:
        """`ctr run --rm --net-host` in the foreground: returncode = the container's exit code."""
        cmd = [*self.base(), "run", "--rm", "--net-host"]
        for k, v in env.items():
            cmd += ["--env", f"{k}={v}"]
        for src, dst, ro in mounts:
            cmd += ["--mount", f"type=bind,src={src},dst={dst},options=rbind:{'ro' if ro else 'rw'}"]
        if cwd:
            cmd += ["--cwd", cwd]
        for k, v in labels.items():
            cmd += ["--label", f"{k}={v}"]
        cmd += [normalize_image(image), cid, *argv]
        return subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def signal(self, cid: str, sig: str) -> None:
        proc = subprocess.run(
            [*self.base(), "tasks", "kill", "--signal", sig, cid],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if proc.returncode != 0 and "not found" not in proc.stderr:
            fakelib.klog("warning", f"ctr tasks kill {sig} {cid}: {proc.stderr.strip()}")

    def exec(self, cid: str, argv: list[str], timeout: float) -> int:
        exec_id = f"probe-{os.getpid()}-{int.from_bytes(os.urandom(3), 'big')}"
        try:
            proc = subprocess.run(
                [*self.base(), "tasks", "exec", "--exec-id", exec_id, cid, *argv],
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return -1
        return proc.returncode

    def remove(self, cid: str) -> None:
        """Kill and delete a container and its snapshot, whatever state it is in."""
        for args in (("tasks", "kill", "--signal", "SIGKILL", cid), ("tasks", "delete", "--force", cid)):
            subprocess.run([*self.base(), *args], capture_output=True, timeout=60, check=False)
        proc = subprocess.run(
            [*self.base(), "containers", "delete", cid],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if proc.returncode != 0 and "not found" not in proc.stderr:
            fakelib.klog("warning", f"ctr containers delete {cid}: {proc.stderr.strip()}")

    def ours(self) -> list[str]:
        """Containers this fake kubelet created (left behind by a previous kubelet process)."""
        try:
            out = self.run_ctr("containers", "ls", "-q")
        except fakelib.FakeError as exc:
            fakelib.klog("warning", f"listing containers: {exc}")
            return []
        return [c for c in out.split() if c.startswith(ID_PREFIX)]


def expand(text: str, env: dict[str, str]) -> str:
    """$(VAR) from env, $$(VAR) → $(VAR), unknown references kept (pkg/kubelet/container/helpers.go)."""

    def sub(m: re.Match[str]) -> str:
        if m.group(1) is not None:
            return f"$({m.group(1)})"
        return env.get(m.group(2), m.group(0))

    return re.sub(r"\$\$\(([^)]*)\)|\$\(([^)]*)\)", sub, text)


def container_argv(container: dict[str, Any], image_cfg: dict[str, Any], env: dict[str, str]) -> list[str]:
    """The process the kubelet asks CRI to run; [] means "the image's own ENTRYPOINT + CMD"."""
    command = [expand(c, env) for c in container.get("command") or []]
    args = [expand(a, env) for a in container.get("args") or []]
    if command:
        return command + args
    if args:
        return [*(image_cfg.get("Entrypoint") or []), *args]
    return []


# ---- a runtime's own containerd ------------------------------------------------------------------


def containerd_binary(log: Any) -> str:
    """The host's containerd binary for a runtime's own containerd, or "" where a fake cannot run one
    (loopback roots under $SEALKIT_FAKE_ROOT, not root, no binary): then ``log("warning", …)`` says so and
    the node's pods stay Pending."""
    binary = shutil.which("containerd") or ""
    why = (
        "under $SEALKIT_FAKE_ROOT"
        if os.environ.get("SEALKIT_FAKE_ROOT")
        else "not root"
        if os.geteuid() != 0
        else "no containerd binary"
        if not binary
        else ""
    )
    if why:
        log("warning", f"{fakelib.FAKE_MARK}: no container runtime ({why}); pods stay Pending on this node")
        return ""
    return binary


def filesystem_type(path: str) -> str:
    """The file system type of the mount holding `path` (longest mount point prefix in mountinfo)."""
    path = os.path.realpath(path)
    best, fstype = "", ""
    with open("/proc/self/mountinfo", encoding="utf-8") as fh:
        for line in fh:
            left, _, right = line.partition(" - ")
            fields = left.split()
            if len(fields) < 5 or not right:
                continue
            mount = fields[4].replace("\\040", " ")
            inside = path == mount or path.startswith(mount.rstrip("/") + "/")
            if inside and len(mount) >= len(best):
                best, fstype = mount, right.split()[0]
    return fstype


@dataclass
class ManagedContainerd:
    """The containerd a Kubernetes distribution supervises itself (k0s, k3s), played by the host's
    binary: started with the distribution's root, state, socket and config, PATH led by the directory
    it stages its shims in, NOTIFY_SOCKET removed; `start` waits until `ctr version` answers."""

    binary: str
    args: list[str]
    address: str
    registry_config: str
    log_path: str
    bin_dir: str = ""
    start_timeout: float = 60.0
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Ctr:
        env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
        path = os.environ.get("PATH") or "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        env["PATH"] = f"{self.bin_dir}:{path}" if self.bin_dir else path
        os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
        fakelib.klog("info", f"Running containerd {' '.join(self.args)}")
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(
                [self.binary, *self.args],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        ctr = Ctr(self.address, self.registry_config)
        deadline = time.monotonic() + self.start_timeout
        while not self.answers(ctr):
            self.check()
            if time.monotonic() > deadline:
                self.stop()
                raise fakelib.FakeError(f"containerd did not answer on {self.address}; see {self.log_path}")
            time.sleep(0.5)
        return ctr

    @staticmethod
    def answers(ctr: Ctr) -> bool:
        if not ctr.available():
            return False
        try:
            ctr.run_ctr("version", timeout=10)
        except (fakelib.FakeError, subprocess.TimeoutExpired):
            return False
        return True

    def check(self) -> None:
        """The distribution stops when its containerd dies."""
        if self.proc is not None and self.proc.poll() is not None:
            raise fakelib.FakeError(
                f"containerd exited with code {self.proc.returncode}; see {self.log_path}"
            )

    def stop(self) -> None:
        fakelib.stop_child(self.proc, timeout=20)
