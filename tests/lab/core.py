"""The lab: N real hosts on one machine, brought up in parallel and torn down without a trace.

A host = its own network namespace on the lab bridge + an overlay root filesystem over the real
``/`` + fresh PID/mount/UTS/IPC/cgroup namespaces, with ``sshd -D -e`` (or systemd) as PID 1.
See tests/lab/README.md and /work/shared/LAB.md for the recipe.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from tests.lab import cgroups, net
from tests.lab.inventory import read as read_inventory
from tests.lab.inventory import write_all as write_inventory
from tests.lab.model import (
    CONTROLLER_OCTET,
    DEADEND_OCTET,
    FIRST_HOST_OCTET,
    HOST_PATH,
    JUMP_OCTET,
    MARKER,
    MAX_HOSTS,
    PREFIX,
    REGISTRY,
    USER,
    LabError,
    LabHost,
    check_name,
    inner_prefix,
    lab_netns,
    lab_root,
    netns_name,
    outer_prefix,
    root_veth,
)
from tests.lab.rootfs import (
    Accounts,
    HostDisk,
    etc_hosts,
    hash_password,
    new_keypair,
    prepare_upper,
    write,
    write_keypair,
)

HOSTINIT = Path(__file__).with_name("hostinit.py")
SYSTEMD = Path("/lib/systemd/systemd")
SSHD = Path("/usr/sbin/sshd")
DEFAULT_REAL_DIRS = ("/var/lib/containerd",)
INOTIFY_PER_SYSTEMD_HOST = 6  # systemd, journald, logind, … (LAB.md: 128 ran out above 23 hosts)
EXEC_ENV = {"PATH": HOST_PATH, "HOME": "/root", "USER": "root", "LOGNAME": "root", "LANG": "C.UTF-8"}


@dataclass(frozen=True)
class _Paths:
    """Where a host lives on the controller's disk."""

    dir: Path

    @property
    def upper(self) -> Path:
        return self.dir / "upper"

    @property
    def work(self) -> Path:
        return self.dir / "work"

    @property
    def root(self) -> Path:
        return self.dir / "root"

    @property
    def console(self) -> Path:
        return self.dir / "console.log"

    @property
    def init(self) -> Path:
        return self.dir / "init.json"

    def real(self, path: str) -> Path:
        return self.dir / "real" / path.strip("/").replace("/", "_")


class Lab:
    """A running (or stopped) lab. Create with :meth:`up`, reattach with :meth:`load`."""

    def __init__(self, lab_dir: Path, meta: dict[str, object], hosts: list[LabHost], jump: LabHost | None):
        self.dir = lab_dir
        self.name = str(meta["name"])
        self.k = int(str(meta["k"]))
        self.systemd = bool(meta["systemd"])
        real_dirs = meta["real_dirs"]
        assert isinstance(real_dirs, list)
        self.real_dirs = tuple(str(p) for p in real_dirs)
        self.hosts: list[LabHost] = hosts  # regular and hidden hosts (not the jump host)
        self.jump: LabHost | None = jump
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        bases = meta.get("cgroup_bases")
        self._cgl = cgroups.Layout.detect(bases if isinstance(bases, dict) else None)
        self._cut: set[str] = set()
        self._shaped: set[str] = set()

    # ---------------------------------------------------------------- paths and views
    @property
    def inventory(self) -> Path:
        """The lab directory (inventory.json, ssh_config, known_hosts, keys/)."""
        return self.dir

    @property
    def inventory_file(self) -> Path:
        return self.dir / "inventory.json"

    @property
    def ssh_config(self) -> Path:
        return self.dir / "ssh_config"

    @property
    def testinfra_ssh_config(self) -> Path:
        """Same as ssh_config with ProxyCommand instead of ProxyJump (testinfra's paramiko)."""
        return self.dir / "ssh_config.testinfra"

    @property
    def known_hosts(self) -> Path:
        return self.dir / "known_hosts"

    @property
    def subnet(self) -> str:
        return f"{outer_prefix(self.k)}.0/24"

    @property
    def inner_subnet(self) -> str:
        return f"{inner_prefix(self.k)}.0/24"

    @property
    def controller_ip(self) -> str:
        """The controller's address on the lab bridge (hosts reach the controller there)."""
        return f"{outer_prefix(self.k)}.{CONTROLLER_OCTET}"

    @property
    def controller_iface(self) -> str:
        return root_veth(self.k)

    @property
    def visible(self) -> list[LabHost]:
        return [h for h in self.hosts if not h.hidden]

    @property
    def hidden(self) -> list[LabHost]:
        return [h for h in self.hosts if h.hidden]

    @property
    def all_hosts(self) -> list[LabHost]:
        """Every host including the jump host."""
        return [*([self.jump] if self.jump else []), *self.hosts]

    def host(self, key: str | LabHost) -> LabHost:
        """A host of this lab by name ("h1"), hostname ("lab-h1"), address, or LabHost."""
        want = key.name if isinstance(key, LabHost) else key
        for h in self.all_hosts:
            if want in (h.name, h.hostname, *h.ips):
                if isinstance(key, LabHost) and key.lab != self.name:
                    break
                return h
        raise LabError(f"lab {self.name}: no host {want!r} (hosts: {[h.name for h in self.all_hosts]})")

    def __repr__(self) -> str:
        return f"Lab({self.name!r}, dir={str(self.dir)!r}, hosts={[h.name for h in self.all_hosts]})"

    def __enter__(self) -> Lab:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.down()

    # ---------------------------------------------------------------- lifecycle
    @classmethod
    def up(
        cls,
        n_hosts: int = 5,
        *,
        systemd: bool = False,
        hidden: int = 0,
        name: str = "default",
        replace: bool = False,
        timeout: float = 60.0,
        real_dirs: Sequence[str] = DEFAULT_REAL_DIRS,
    ) -> Lab:
        """Bring up ``n_hosts`` hosts (+ a jump host and ``hidden`` hosts behind it if hidden > 0).

        ``replace`` tears down a lab of the same name first (a crashed run); otherwise an existing
        lab is an error. ``real_dirs`` are per-host real (non-overlay) directories bind-mounted at
        those paths (containerd's overlayfs snapshotter cannot work on an overlay).
        """
        check_name(name)
        if n_hosts < 1 or n_hosts + hidden > MAX_HOSTS or hidden < 0:
            raise LabError(
                f"lab {name}: 1 ≤ hosts and hosts + hidden ≤ {MAX_HOSTS} (got {n_hosts}, {hidden})"
            )
        if os.geteuid() != 0:
            raise LabError("the lab needs root (network namespaces, mounts, cgroups)")
        total = n_hosts + (hidden + 1 if hidden else 0)
        if systemd:
            _check_systemd(total)
        lab_dir = lab_root() / name
        if replace:
            teardown(name)
        _claim(name, lab_dir)
        lab: Lab | None = None
        try:
            lab = cls._create(name, lab_dir, n_hosts, hidden, systemd, tuple(real_dirs))
            lab._boot(lab.all_hosts, timeout)
        except BaseException:
            if lab is not None:
                lab.down()
            else:
                teardown(name)
            raise
        return lab

    @classmethod
    def _create(
        cls, name: str, lab_dir: Path, n: int, hidden: int, systemd: bool, real_dirs: tuple[str, ...]
    ) -> Lab:
        keys = lab_dir / "keys"
        keys.mkdir(mode=0o700)
        root_pub = write_keypair(keys / "root_ed25519", f"root@sealkit-lab-{name}")
        user_pub = write_keypair(keys / f"{USER}_ed25519", f"{USER}@sealkit-lab-{name}")
        password = secrets.token_urlsafe(15)
        accounts = Accounts.build(USER, hash_password(password))

        # names first: the subnets depend on the lab index k, known once the veth exists
        names = [f"h{i}" for i in range(1, n + 1)]
        if hidden:
            names += ["jump", *(f"hidden{i}" for i in range(1, hidden + 1))]
        k = net.prepare(name, [netns_name(name, h) for h in names])
        out, inn = outer_prefix(k), inner_prefix(k)
        masters = 3 if n >= 4 else 1

        plan: list[tuple[LabHost, net.NetHost, bytes]] = []

        def add(
            hname: str,
            ips: tuple[str, ...],
            role: str,
            *,
            hid: bool,
            jmp: bool,
            nics: tuple[net.Nic, ...],
            gw: str,
        ) -> None:
            private, public = new_keypair(f"root@lab-{hname}")
            host = LabHost(
                name=hname,
                hostname=f"lab-{hname}",
                ip=ips[0],
                port=22,
                role=role,
                root_key=keys / "root_ed25519",
                user=USER,
                user_key=keys / f"{USER}_ed25519",
                user_password=password,
                hidden=hid,
                jump=jmp,
                ips=ips,
                host_key=public,
                systemd=systemd,
                lab=name,
                lab_dir=lab_dir,
            )
            plan.append((host, net.NetHost(netns_name(name, hname), nics, gw, router_off=jmp), private))

        for i in range(1, n + 1):
            ip = f"{out}.{FIRST_HOST_OCTET + i - 1}"
            add(
                f"h{i}",
                (ip,),
                "master" if i <= masters else "node",
                hid=False,
                jmp=False,
                nics=(net.Nic("eth0", f"p-h{i}", "br0", ip),),
                gw=f"{out}.{DEADEND_OCTET}",
            )
        if hidden:
            jo, ji = f"{out}.{JUMP_OCTET}", f"{inn}.{JUMP_OCTET}"
            add(
                "jump",
                (jo, ji),
                "jump",
                hid=False,
                jmp=True,
                nics=(net.Nic("eth0", "p-jump", "br0", jo), net.Nic("eth1", "q-jump", "br1", ji)),
                gw=f"{out}.{DEADEND_OCTET}",
            )
            for i in range(1, hidden + 1):
                ip = f"{inn}.{FIRST_HOST_OCTET + i - 1}"
                add(
                    f"hidden{i}",
                    (ip,),
                    "node",
                    hid=True,
                    jmp=False,
                    nics=(net.Nic("eth0", f"p-hidden{i}", "br1", ip),),
                    gw=f"{inn}.{DEADEND_OCTET}",
                )
        net.wire(name, k, [p[1] for p in plan], inner=bool(hidden))

        hosts_file = etc_hosts((ip, h.hostname) for h, _, _ in plan for ip in h.ips)
        for host, _nh, private in plan:
            paths = _Paths(lab_dir / "hosts" / host.name)
            paths.dir.mkdir(parents=True)
            for p in (paths.work, paths.root):
                p.mkdir()
            for rd in real_dirs:
                paths.real(rd).mkdir(parents=True)
            prepare_upper(
                paths.upper,
                HostDisk(
                    hostname=host.hostname,
                    etc_hosts=hosts_file,
                    host_key=private,
                    host_key_pub=host.host_key,
                    root_pub=root_pub,
                    user_pub=user_pub,
                    accounts=accounts,
                    systemd=systemd,
                    mountpoints=real_dirs,
                    hide=(str(lab_dir.parent), str(REGISTRY)),
                ),
            )
        hosts = [h for h, _, _ in plan if not h.jump]
        jump = next((h for h, _, _ in plan if h.jump), None)
        meta: dict[str, object] = {
            "name": name,
            "dir": str(lab_dir),
            "k": k,
            "systemd": systemd,
            "real_dirs": list(real_dirs),
            "cgroup_bases": cgroups.Layout.detect().bases(),
            "subnet": f"{out}.0/24",
            "inner_subnet": f"{inn}.0/24" if hidden else None,
            "controller_ip": f"{out}.{CONTROLLER_OCTET}",
            "controller_iface": root_veth(k),
            "ssh_config": str(lab_dir / "ssh_config"),
            "known_hosts": str(lab_dir / "known_hosts"),
            "user": USER,
            "user_password": password,
            "root_key": str(keys / "root_ed25519"),
            "user_key": str(keys / f"{USER}_ed25519"),
        }
        write_inventory(lab_dir, meta, hosts, jump)
        return cls(lab_dir, meta, hosts, jump)

    @classmethod
    def load(cls, name: str = "default") -> Lab:
        """Reattach to a lab brought up by another process (``python -m tests.lab up``)."""
        lab_dir = find_dir(check_name(name))
        if lab_dir is None or not (lab_dir / "inventory.json").exists():
            raise LabError(
                f"no lab {name!r} (looked in {REGISTRY} and {lab_root()}): "
                f"`python -m tests.lab up --name {name}`"
            )
        meta, hosts, jump = read_inventory(lab_dir)
        return cls(lab_dir, meta, hosts, jump)

    def down(self) -> None:
        """Kill every process, remove namespaces, veths, routes, cgroups and the lab dir."""
        teardown(self.name)
        self._reap()

    def _reap(self) -> None:
        for hname in list(self._procs):
            self._reap_one(hname)

    def _reap_one(self, hname: str) -> None:
        p = self._procs.pop(hname, None)
        if p is not None:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    # ---------------------------------------------------------------- booting hosts
    def _cg(self, host: LabHost) -> Path:
        """The host's v2 cgroup (``sv``, ``ns`` and ``exec`` below it)."""
        return self._cgl.host_v2(self.name, host.name)

    def _paths(self, host: LabHost) -> _Paths:
        return _Paths(self.dir / "hosts" / host.name)

    def upper_dir(self, host: str | LabHost) -> Path:
        """The overlay upper dir of a host: every file the host wrote or changed since it booted
        (tests diff it to prove that ``reset`` leaves nothing behind)."""
        return self._paths(self.host(host)).upper

    def _spawn(self, host: LabHost) -> None:
        cgl = self._cgl
        cgl.make_host(self.name, host.name)
        cg = self._cg(host)
        if not host.systemd:  # PID 1 leaves the namespace root, so nested runc can use controllers
            (cg / "ns" / "init.scope").mkdir()
        paths = self._paths(host)
        if host.systemd:
            argv = [str(SYSTEMD), "--system"]
            env = {"PATH": HOST_PATH, "container": "sealkit-lab", "LANG": "C.UTF-8"}
        else:
            argv = [str(SSHD), "-D", "-e"]
            env = {"PATH": HOST_PATH, "LANG": "C.UTF-8"}
        cfg = {
            "hostname": host.hostname,
            "netns": f"/run/netns/{netns_name(self.name, host.name)}",
            "cgroup_procs": [
                str(p / "cgroup.procs") for p in [cg / "ns", *cgl.host_v1(self.name, host.name)]
            ],
            "init_scope_procs": None if host.systemd else str(cg / "ns/init.scope/cgroup.procs"),
            "cgroup_mounts": cgl.mounts(),
            "cgroup_links": [list(x) for x in cgl.links],
            "root": str(paths.root),
            "upper": str(paths.upper),
            "work": str(paths.work),
            "binds": [[str(paths.real(rd)), rd] for rd in self.real_dirs],
            "argv": argv,
            "env": env,
        }
        write(paths.init, json.dumps(cfg, indent=1), 0o600)
        console = open(paths.console, "ab")  # noqa: SIM115 - handed to the child, closed below
        try:
            self._procs[host.name] = subprocess.Popen(
                [
                    "sh",
                    "-c",
                    'echo $$ > "$0" && exec "$@"',
                    str(cg / "sv" / "cgroup.procs"),
                    "unshare",
                    "--mount",
                    "--pid",
                    "--uts",
                    "--ipc",
                    "--fork",
                    "--kill-child",
                    "--",
                    sys.executable,
                    "-I",
                    "-S",
                    str(HOSTINIT),
                    str(paths.init),
                ],
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={"PATH": HOST_PATH},
                cwd="/",
            )
        finally:
            console.close()

    def _boot(self, hosts: Sequence[LabHost], timeout: float) -> None:
        for h in hosts:
            self._spawn(h)
        pending = {h.name: h for h in hosts}
        deadline = time.monotonic() + timeout
        while pending:
            for hname, h in list(pending.items()):
                p = self._procs.get(hname)
                if p is not None and p.poll() is not None:
                    raise LabError(
                        f"lab {self.name}: host {hname} exited during boot (code {p.returncode}); "
                        f"its console:\n{self.console(h, 40)}"
                    )
                if self._listening(h, 22):
                    del pending[hname]
            if not pending:
                break
            if time.monotonic() > deadline:
                slow = sorted(pending)
                raise LabError(
                    f"lab {self.name}: sshd not listening on {slow} after {timeout:.0f}s; console of "
                    f"{slow[0]}:\n{self.console(pending[slow[0]], 40)}"
                )
            time.sleep(0.02)

    def _listening(self, host: LabHost, port: int) -> bool:
        """Is something listening on ``port`` inside the host? (Read from /proc: works for hidden
        hosts too, and costs no connection in sshd's log.)"""
        pids = cgroups.procs(self._cg(host) / "ns")
        if not pids:
            return False
        want = f":{port:04X}"
        for table in ("tcp", "tcp6"):
            try:
                with open(f"/proc/{pids[0]}/net/{table}") as f:
                    next(f)
                    for line in f:
                        parts = line.split()
                        if parts[1].endswith(want) and parts[3] == "0A":
                            return True
            except (FileNotFoundError, ProcessLookupError):
                return False
        return False

    def console(self, host: str | LabHost, lines: int = 50) -> str:
        """Tail of the host's console (PID 1's stdout/stderr: sshd -e or systemd log)."""
        path = self._paths(self.host(host)).console
        try:
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no console log)"

    # ---------------------------------------------------------------- inside a host
    def pid1(self, host: str | LabHost) -> int:
        """The host's PID 1 as the controller sees it (for nsenter); LabError if the host is down."""
        h = self.host(host)
        for pid in cgroups.procs(self._cg(h) / "ns"):
            try:
                with open(f"/proc/{pid}/status") as f:
                    for line in f:
                        if line.startswith("NSpid:"):
                            if line.split()[-1] == "1":
                                return pid
                            break
            except FileNotFoundError:
                continue
        raise LabError(f"lab {self.name}: host {h.name} is not running (start_host it first)")

    def is_running(self, host: str | LabHost) -> bool:
        return cgroups.populated(self._cg(self.host(host)) / "ns")

    def exec_on(
        self,
        host: str | LabHost,
        argv: Sequence[str] | str,
        *,
        input: str | None = None,
        check: bool = True,
        timeout: float = 120.0,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` as root inside the host's namespaces via nsenter (no ssh involved).

        A string is run with ``sh -c``. Output is text. ``check`` raises LabError on non-zero exit.
        The command joins the host's cgroup, so stopping the host kills it too.
        """
        h = self.host(host)
        cmd = ["sh", "-c", argv] if isinstance(argv, str) else list(argv)
        pid = self.pid1(h)
        full = [
            "sh",
            "-c",
            'echo $$ > "$0" && exec "$@"',
            str(self._cg(h) / "exec" / "cgroup.procs"),
            "nsenter",
            "-t",
            str(pid),
            "-m",
            "-u",
            "-i",
            "-n",
            "-p",
            "-C",
            "--",
            *cmd,
        ]
        res = subprocess.run(
            full,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=EXEC_ENV,
            check=False,
            cwd="/",
        )
        if check and res.returncode != 0:
            raise LabError(
                f"lab {self.name}: on {h.name} `{' '.join(cmd)}` exited {res.returncode}: "
                f"{res.stderr.strip() or res.stdout.strip()}"
            )
        return res

    # ---------------------------------------------------------------- faults
    def stop_host(self, host: str | LabHost) -> None:
        """Power off: kill every process of the host. Its disk (overlay upper dir, real dirs),
        network namespace and address stay; /tmp and /run are lost as on a real reboot."""
        h = self.host(host)
        self._cgl.remove_host(self.name, h.name)
        self._reap_one(h.name)

    def start_host(self, host: str | LabHost, *, timeout: float = 60.0) -> None:
        """Boot the host again: same disk, address and host key. No-op if it is running."""
        h = self.host(host)
        if self.is_running(h):
            return
        self._reap_one(h.name)
        self._boot([h], timeout)

    def reboot_host(self, host: str | LabHost, *, timeout: float = 60.0) -> None:
        self.stop_host(host)
        self.start_host(host, timeout=timeout)

    def _ports(self, h: LabHost) -> list[str]:
        return ["p-jump", "q-jump"] if h.jump else [f"p-{h.name}"]

    def cut(self, host: str | LabHost) -> None:
        """Unplug the host's cable(s) at the bridge: packets to and from it are lost (no RST)."""
        h = self.host(host)
        for port in self._ports(h):
            net.link_set(lab_netns(self.name), port, "down")
        self._cut.add(h.name)

    def restore(self, host: str | LabHost) -> None:
        h = self.host(host)
        for port in self._ports(h):
            net.link_set(lab_netns(self.name), port, "up")
        self._cut.discard(h.name)

    def shape(self, rate: str | int = "1gbit", *, host: str | LabHost | None = None) -> None:
        """Token-bucket both directions of a link: the controller's uplink by default, or one
        host's link to the bridge (``host=``) — makes distribution benchmarks honest."""
        bits = net.parse_rate(rate)
        for ns, dev in self._shape_points(host):
            net.tbf(ns, dev, bits)
        self._shaped.add(self.host(host).name if host is not None else "")

    def unshape(self, *, host: str | LabHost | None = None) -> None:
        for ns, dev in self._shape_points(host):
            net.untbf(ns, dev)
        self._shaped.discard(self.host(host).name if host is not None else "")

    def _shape_points(self, host: str | LabHost | None) -> list[tuple[str | None, str]]:
        if host is None:
            return [(None, root_veth(self.k)), (lab_netns(self.name), "up0")]
        h = self.host(host)
        return [(lab_netns(self.name), self._ports(h)[0]), (netns_name(self.name, h.name), "eth0")]

    def heal(self) -> None:
        """Undo faults this object injected and boot stopped hosts (between tests)."""
        for hname in sorted(self._cut):
            self.restore(hname)
        for key in sorted(self._shaped):
            self.unshape(host=key or None)
        down = [h for h in self.all_hosts if not self.is_running(h)]
        if down:
            self._boot(down, 60.0)

    def status(self) -> list[dict[str, object]]:
        rows = []
        for h in self.all_hosts:
            running = self.is_running(h)
            rows.append(
                {
                    "name": h.name,
                    "hostname": h.hostname,
                    "ip": h.ip,
                    "role": h.role,
                    "hidden": h.hidden,
                    "jump": h.jump,
                    "running": running,
                    "sshd": running and self._listening(h, 22),
                    "pid1": self.pid1(h) if running else None,
                }
            )
        return rows


# -------------------------------------------------------------------- machine-level helpers
def _check_systemd(total_hosts: int) -> None:
    if not SYSTEMD.exists():
        raise LabError(
            f"systemd mode needs {SYSTEMD}: `apt-get install systemd` on the machine (before any host is up)"
        )
    path = Path("/proc/sys/fs/inotify/max_user_instances")
    need = 64 + INOTIFY_PER_SYSTEMD_HOST * total_hosts
    have = int(path.read_text())
    if have < need:
        try:
            path.write_text(str(need))
        except OSError as exc:
            raise LabError(
                f"{total_hosts} systemd hosts need fs.inotify.max_user_instances ≥ {need} (is "
                f"{have}) and it cannot be raised here ({exc}): `sysctl -w "
                f"fs.inotify.max_user_instances={need}` or use fewer systemd hosts"
            ) from exc


def _claim(name: str, lab_dir: Path) -> None:
    """Reserve the name machine-wide (registry symlink) and create the lab dir, atomically.

    Retries while a concurrent ``down`` removes the (then empty) registry or lab root."""
    link = REGISTRY / name
    for _ in range(50):
        REGISTRY.mkdir(mode=0o755, parents=True, exist_ok=True)
        try:
            os.symlink(lab_dir, link)
            break
        except FileExistsError:
            raise LabError(
                f"lab {name!r} exists ({os.readlink(link)}): `python -m tests.lab down --name {name}` "
                "or pass replace=True / --replace"
            ) from None
        except FileNotFoundError:
            continue
    for _ in range(50):
        try:
            lab_dir.parent.mkdir(parents=True, exist_ok=True)
            lab_dir.mkdir(mode=0o700)
            break
        except FileExistsError:
            link.unlink()
            raise LabError(
                f"lab dir {lab_dir} exists: `python -m tests.lab down --name {name}` first"
            ) from None
        except FileNotFoundError:
            continue
    (lab_dir / MARKER).write_text(json.dumps({"name": name, "pid": os.getpid()}) + "\n")


def find_dir(name: str) -> Path | None:
    link = REGISTRY / name
    if link.is_symlink():
        return Path(os.readlink(link))
    cand = lab_root() / name
    return cand if (cand / MARKER).exists() else None


def names() -> list[str]:
    """Every lab this machine knows of: registry, lab root, cgroups and namespaces."""
    found: set[str] = set()
    if REGISTRY.is_dir():
        found |= {p.name for p in REGISTRY.iterdir()}
    root = lab_root()
    if root.is_dir():
        found |= {p.name for p in root.iterdir() if (p / MARKER).exists()}
    found |= {d.name[len(PREFIX) + 1 :] for d in cgroups.Layout.detect().lab_dirs()}
    found |= {
        ns[len(PREFIX) + 1 :].split(".", 1)[0] for ns in net.netns_list() if ns.startswith(f"{PREFIX}-")
    }
    return sorted(found)


def _netns_pids(lab: str) -> list[int]:
    """Processes inside the lab's network namespaces that escaped its cgroups (`ip netns exec`)."""
    inodes = set()
    for ns in net.netns_list():
        if ns.startswith(f"{PREFIX}-{lab}."):
            try:
                inodes.add(os.stat(f"/run/netns/{ns}").st_ino)
            except FileNotFoundError:
                continue
    found = []
    if not inodes:
        return found
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if os.stat(f"/proc/{entry.name}/ns/net").st_ino in inodes:
                found.append(int(entry.name))
        except (FileNotFoundError, PermissionError, ProcessLookupError):
            continue
    return found


def teardown(name: str) -> list[str]:
    """Remove everything of lab ``name`` that exists, running or crashed; return what went."""
    removed: list[str] = [f"cgroup {d}" for d in cgroups.Layout.detect().teardown(name)]
    strays = _netns_pids(name)
    for pid in strays:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
    deadline = time.monotonic() + 10
    while strays and time.monotonic() < deadline:
        strays = [p for p in strays if Path(f"/proc/{p}").exists()]
        time.sleep(0.01)
    lab_dir = find_dir(name)
    k = None
    if lab_dir is not None:
        try:
            k = int(json.loads((lab_dir / "inventory.json").read_text())["k"])
        except (FileNotFoundError, KeyError, ValueError):
            k = None  # crashed before the inventory was written: found by the veth's peer
    removed += net.destroy(name, k)
    dirs = {p for p in (lab_dir, lab_root() / name) if p is not None}
    for d in dirs:
        if (d / MARKER).exists():
            _umount_under(d)
            shutil.rmtree(d)
            removed.append(str(d))
    link = REGISTRY / name
    if link.is_symlink():
        link.unlink()
    for parent in {*(d.parent for d in dirs), REGISTRY}:
        _rmdir_if_empty(parent)
    return removed


def _rmdir_if_empty(path: Path) -> None:
    """The last lab out removes the lab root and the registry dir too."""
    try:
        path.rmdir()
    except OSError as exc:
        if exc.errno not in (errno.ENOTEMPTY, errno.ENOENT):
            raise LabError(f"removing the empty lab dir {path}: {exc}") from exc


def _umount_under(path: Path) -> None:
    """Host mounts live in the hosts' own mount namespaces; anything under the lab dir in ours is
    a leftover (e.g. a debugging session) and would make rmtree fail."""
    prefix = str(path) + "/"
    with open("/proc/self/mountinfo") as f:
        points = [ln.split()[4] for ln in f if ln.split()[4].startswith(prefix)]
    for mp in sorted(points, key=len, reverse=True):
        net.run(["umount", "-l", mp], what=f"unmounting leftover {mp}")


def teardown_all() -> list[str]:
    """`down --all`: every lab on this machine, then any remaining ``sklab`` network object."""
    removed = []
    for n in names():
        removed += teardown(n)
    removed += net.destroy_all()
    return removed
