"""Fan-out benchmark: ``true`` on N lab hosts from a fresh process, sealkit against its floor and peers.

    .venv/bin/python bench/fanout.py --hosts 10 50 --repeat 3

Brings up one lab (``bench-fanout``, max(N) sshd hosts), then for each N times fresh subprocesses of:

* fan-out (connect, ``true``, disconnect):
  - ``paramiko floor``: bench/_fanout_paramiko.py, bare paramiko in a thread pool (the floor of our stack),
    with a window of N and, when it differs, sealkit's default window of 32;
  - ``sealkit exec``: ``sealkit -q --concurrency W --cluster benchN exec true`` on a Clusterfile saved
    with the public API (cluster_from_flags + ClusterState) and the lab's known_hosts pinned;
  - ``pyinfra exec``, ``ansible -m command`` and ``ansible -m raw`` from bench/.venv-peers.
* a 20-step plan (20 sequential ``true`` per host, one connection per host):
  - ``paramiko floor``: the same script with ``--steps 20``;
  - ``sealkit Fleet``: bench/_fanout_sealkit_plan.py, per host and with a barrier after every step;
  - ``pyinfra`` deploy of 20 ``server.shell`` ops, ``ansible-playbook`` of 20 ``command`` tasks;
  - ``paramiko 1 sh/host``: the steps written to one ``sh`` per host (no per-step session setup);
  - the target: paramiko fan-out floor + 20 × the exec round trip measured on an open connection.
* ``+NODELAY`` rows: paramiko and sealkit with TCP_NODELAY on the SSH socket (bench/_nodelay.py patches
  sealkit from outside): the fix these numbers propose.

Each host first gets /etc/skel's .bashrc as /root/.bashrc in its own overlay (``--machine-bashrc``: the
machine's, whose pyenv init runs on every exec, as lab hosts had it before fce806d; see set_bashrc).

Every repeat runs every tool once, round-robin, so a burst of load hits all tools alike. Besides the
wall time it records each run's CPU (its own, via wait4, including reaped children), the lab sshds' CPU
(their cgroup) and the CPU everyone else used meanwhile (machine total − both): on a shared 2-core
machine the last column says whether a number can be trusted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"
PEERS = BENCH / ".venv-peers"
LAB_NAME = "bench-fanout"
SEALKIT_WINDOW = 32  # sealkit's default --concurrency
RUN_TIMEOUT = 900.0

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


# --------------------------------------------------------------------------------------- machine
def load1() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def busy_ticks() -> int:
    """CPU time the whole machine spent busy, in USER_HZ ticks (everything but idle and iowait)."""
    f = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return sum(f) - f[3] - f[4]


TICK = os.sysconf("SC_CLK_TCK")


def wait_for_load(limit: float, max_wait: float, poll: float) -> tuple[float, float]:
    """Wait until the 1-min load average is below ``limit`` (at most ``max_wait`` s)."""
    t0 = time.monotonic()
    now = load1()
    while now >= limit and time.monotonic() - t0 < max_wait:
        print(f"  load1 {now:.2f} ≥ {limit}: waiting ({time.monotonic() - t0:.0f}s so far)", flush=True)
        time.sleep(poll)
        now = load1()
    return now, time.monotonic() - t0


# --------------------------------------------------------------------------------------- running
@dataclass
class Run:
    wall: float
    cpu: float  # the tool's own CPU (user+sys, including the children it reaped)
    lab_cpu: float  # the lab sshds' CPU (their cgroup)
    others: float  # everything else on the machine, as average busy cores
    load1: float


@dataclass
class Case:
    section: str  # "fan-out" or "20-step"
    tool: str
    n: int
    window: int
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    after: Callable[[], None] | None = None  # cleanup after every run (not timed)
    runs: list[Run] = field(default_factory=list)
    failed: str = ""  # why the tool failed (it is not run again)

    @property
    def key(self) -> tuple[str, str, int, int]:
        return (self.section, self.tool, self.n, self.window)

    def median(self) -> float:
        return statistics.median(r.wall for r in self.runs)


class Timer:
    def __init__(self, lab_cgroup: Path | None, logdir: Path) -> None:
        self.lab_stat = lab_cgroup / "cpu.stat" if lab_cgroup else None
        self.logdir = logdir
        self.count = 0

    def _lab_usec(self) -> int:
        if self.lab_stat is None or not self.lab_stat.exists():
            return 0
        for line in self.lab_stat.read_text().splitlines():
            if line.startswith("usage_usec "):
                return int(line.split()[1])
        return 0

    def run(self, case: Case) -> Run | None:
        """Time one fresh run of ``case``; a failure is printed, kept in ``case.failed`` and the case
        is not run again (one broken peer does not sink the whole benchmark)."""
        self.count += 1
        log = (
            self.logdir
            / f"{self.count:03d}-{case.section}-{case.tool.replace(' ', '_').replace('/', '-')}-{case.n}.log"
        )
        with open(log, "wb") as out:
            l1 = load1()
            b0, u0 = busy_ticks(), self._lab_usec()
            t0 = time.perf_counter()
            p = subprocess.Popen(
                case.argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=case.env,
                cwd=case.cwd,
                start_new_session=True,
            )
            killer = threading.Timer(RUN_TIMEOUT, lambda: os.killpg(p.pid, signal.SIGKILL))
            killer.start()
            try:
                _, status, ru = os.wait4(p.pid, 0)
            finally:
                killer.cancel()
            wall = time.perf_counter() - t0
            b1, u1 = busy_ticks(), self._lab_usec()
        p.returncode = os.waitstatus_to_exitcode(status)
        if case.after is not None:
            case.after()
        if p.returncode != 0:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
            case.failed = f"exit {p.returncode}"
            print(
                f"  FAILED: {case.tool} (N={case.n}) exited {p.returncode}: {' '.join(case.argv)}\n{tail}",
                file=sys.stderr,
                flush=True,
            )
            return None
        cpu = ru.ru_utime + ru.ru_stime
        lab_cpu = (u1 - u0) / 1e6
        others = max(0.0, (b1 - b0) / TICK - cpu - lab_cpu) / wall
        return Run(wall, cpu, lab_cpu, others, l1)


def set_bashrc(lab, hosts, text: str) -> None:  # type: ignore[no-untyped-def]
    """Write ``text`` as /root/.bashrc on each lab host (in the host's overlay only).

    Debian's bash reads ~/.bashrc for every ``bash -c`` that sshd starts, so this file runs on every
    exec of every tool. The lab gives hosts /etc/skel's (since fce806d); before that they saw the
    machine's, whose ``pyenv init`` costs ~90 ms of host CPU per exec (and ``pyenv rehash`` waits up to
    60 s on its lock when execs overlap). Written explicitly so that a run does not depend on the lab
    version, and ``--machine-bashrc`` can put the machine's back to reproduce the old figures.
    """
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda h: lab.exec_on(h, "cat > /root/.bashrc", input=text), hosts))


# --------------------------------------------------------------------------------------- peers
def ensure_peers() -> dict[str, str]:
    """bench/.venv-peers with pyinfra and ansible-core (created once, reused)."""
    py = PEERS / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEERS)], check=True)
    if not (PEERS / "bin" / "pyinfra").exists() or not (PEERS / "bin" / "ansible").exists():
        subprocess.run([str(py), "-m", "pip", "install", "-q", "pyinfra", "ansible-core"], check=True)
    out = subprocess.run(
        [
            str(py),
            "-c",
            "import importlib.metadata as m, json; "
            "print(json.dumps({p: m.version(p) for p in ('pyinfra', 'ansible-core', 'paramiko')}))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


# --------------------------------------------------------------------------------------- setup
@dataclass
class Setup:
    work: Path
    key: Path
    known_hosts: Path
    ips: list[str]
    env: dict[str, str]
    peers: bool
    steps: int

    def ansible_env(self, n: int, tag: str) -> tuple[dict[str, str], Callable[[], None]]:
        """Env for one Ansible case: a fresh ControlPath dir for every run (no master reused across
        runs), emptied after each run by asking every master to exit."""
        cp = self.work / f"cp-{tag}-{n}"
        cp.mkdir()
        env = {
            **self.env,
            "ANSIBLE_CONFIG": str(self.work / "ansible.cfg"),
            "ANSIBLE_SSH_CONTROL_PATH_DIR": str(cp),
        }

        def after() -> None:
            for sock in list(cp.iterdir()):
                subprocess.run(
                    ["ssh", "-F", "/dev/null", "-o", f"ControlPath={sock}", "-O", "exit", "bench"],
                    capture_output=True,
                    check=False,
                    timeout=30,
                )
                sock.unlink(missing_ok=True)

        return env, after


def prepare(lab, work: Path, ns: list[int], peers: bool, steps: int) -> Setup:
    from sealkit.cluster import cluster_from_flags
    from sealkit.state import ClusterState

    home = work / "home"
    home.mkdir()
    env = {
        "PATH": f"{REPO / '.venv' / 'bin'}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": str(home),  # no ~/.ssh/config, known_hosts or agent of the user leaks into any tool
        "LANG": "C.UTF-8",
        "TERM": "dumb",
        "SEALKIT_HOME": str(work / "sealkit-home"),
    }
    hosts = lab.visible
    s = Setup(work, hosts[0].root_key, lab.known_hosts, [h.ip for h in hosts], env, peers, steps)
    # one saved cluster per N: exec needs only the Clusterfile and the pinned host keys
    for n in ns:
        state = ClusterState(f"bench{n}", home=work / "sealkit-home")
        cluster = cluster_from_flags(
            masters=",".join(s.ips[:n]), user="root", key=str(s.key), name=f"bench{n}"
        )
        state.save_clusterfile(cluster)
        shutil.copyfile(lab.known_hosts, state.known_hosts)
    if peers:
        for n in ns:
            ips = s.ips[:n]
            data = {
                "ssh_user": "root",
                "ssh_key": str(s.key),
                "ssh_known_hosts_file": str(s.known_hosts),
                "ssh_strict_host_key_checking": "yes",
                "ssh_allow_agent": False,
                "ssh_look_for_keys": False,
            }
            (work / f"pyinfra_inv{n}.py").write_text(f"hosts = {[(ip, data) for ip in ips]!r}\n")
            (work / f"ansible_inv{n}.ini").write_text("[bench]\n" + "\n".join(ips) + "\n")
        (work / "pyinfra_plan.py").write_text(
            "from pyinfra.operations import server\n\n"
            f"for i in range({steps}):\n"
            '    server.shell(name=f"step {i + 1}", commands=["true"])\n'
        )
        tasks = "".join(f'    - name: step {i + 1}\n      command: "true"\n' for i in range(steps))
        (work / "ansible_plan.yml").write_text(f"- hosts: all\n  gather_facts: false\n  tasks:\n{tasks}")
        ssh_args = (
            "-C -o ControlMaster=auto -o ControlPersist=60s "  # Ansible's default ssh_args …
            f"-o UserKnownHostsFile={s.known_hosts} -o GlobalKnownHostsFile=/dev/null "
            "-o StrictHostKeyChecking=yes -o IdentitiesOnly=yes"  # … + the lab's pinned host keys
        )
        (work / "ansible.cfg").write_text(
            "[defaults]\n"
            "host_key_checking = True\n"
            "remote_user = root\n"
            f"private_key_file = {s.key}\n"
            "interpreter_python = /usr/bin/python3\n"  # no interpreter discovery round trip
            "retry_files_enabled = False\n"
            "[ssh_connection]\n"
            "pipelining = True\n"
            f"ssh_args = {ssh_args}\n"
        )
    return s


def cases_for(s: Setup, n: int) -> list[Case]:
    """Every tool for N hosts. ``+NODELAY`` rows apply the proposed fix (bench/_nodelay.py)."""
    py, env, cwd = sys.executable, s.env, s.work
    floor = [py, str(BENCH / "_fanout_paramiko.py"), "--key", str(s.key), "--known-hosts", str(s.known_hosts)]
    plan = [
        py,
        str(BENCH / "_fanout_sealkit_plan.py"),
        "--key",
        str(s.key),
        "--known-hosts",
        str(s.known_hosts),
    ]
    sealkit = [str(REPO / ".venv/bin/sealkit")]
    sealkit_nodelay = [py, str(BENCH / "_sealkit_nodelay.py")]
    ips, w, st = s.ips[:n], str(n), str(s.steps)
    exec_true = ["-q", "--cluster", f"bench{n}", "exec", "true"]
    out: list[Case] = []
    for win in sorted({n, min(n, SEALKIT_WINDOW)}, reverse=True):
        out.append(Case("fan-out", "paramiko floor", n, win, [*floor, "--workers", str(win), *ips], env, cwd))
        out.append(
            Case(
                "fan-out", "sealkit exec", n, win, [*sealkit, "--concurrency", str(win), *exec_true], env, cwd
            )
        )
    out.append(
        Case(
            "fan-out", "paramiko floor +NODELAY", n, n, [*floor, "--nodelay", "--workers", w, *ips], env, cwd
        )
    )
    argv = [*sealkit_nodelay, "--concurrency", w, *exec_true]
    out.append(Case("fan-out", "sealkit exec +NODELAY", n, n, argv, env, cwd))
    peers = PEERS / "bin"
    inv_py, inv_ini = str(s.work / f"pyinfra_inv{n}.py"), str(s.work / f"ansible_inv{n}.ini")
    if s.peers:
        argv = [str(peers / "pyinfra"), "-y", "--parallel", w, inv_py, "exec", "--", "true"]
        out.append(Case("fan-out", "pyinfra exec", n, n, argv, env, cwd))
        for mod in ("command", "raw"):
            aenv, after = s.ansible_env(n, mod)
            argv = [str(peers / "ansible"), "all", "-i", inv_ini, "-f", w, "-m", mod, "-a", "true"]
            out.append(Case("fan-out", f"ansible -m {mod}", n, n, argv, aenv, cwd, after))
    if s.steps < 1:
        return out
    steps = ["--workers", w, "--steps", st]
    out.append(Case("20-step", "paramiko floor", n, n, [*floor, *steps, *ips], env, cwd))
    out.append(
        Case("20-step", "paramiko floor +NODELAY", n, n, [*floor, *steps, "--nodelay", *ips], env, cwd)
    )
    argv = [*floor, *steps, "--shell", "--cmd", "/bin/true", *ips]
    out.append(Case("20-step", "paramiko 1 sh/host", n, n, argv, env, cwd))
    for mode in ("per-host", "barrier"):
        argv = [*plan, *steps, "--mode", mode, *ips]
        out.append(Case("20-step", f"sealkit Fleet {mode}", n, n, argv, env, cwd))
    argv = [*plan, *steps, "--mode", "per-host", "--nodelay", *ips]
    out.append(Case("20-step", "sealkit Fleet per-host +NODELAY", n, n, argv, env, cwd))
    if s.peers:
        argv = [str(peers / "pyinfra"), "-y", "--parallel", w, inv_py, str(s.work / "pyinfra_plan.py")]
        out.append(Case("20-step", "pyinfra deploy", n, n, argv, env, cwd))
        aenv, after = s.ansible_env(n, "playbook")
        argv = [str(peers / "ansible-playbook"), "-i", inv_ini, "-f", w, str(s.work / "ansible_plan.yml")]
        out.append(Case("20-step", "ansible-playbook", n, n, argv, aenv, cwd, after))
    return out


def measure_rtt(s: Setup, n_exec: int = 30) -> dict[str, float]:
    """Median round trip of one step on one open connection to one idle host (median of 3 processes
    of ``n_exec`` steps each): a new exec channel with bare paramiko and with sealkit's
    Connection.run, each without and with TCP_NODELAY, and ``/bin/true`` written to a running sh."""
    common = ["--key", str(s.key), "--known-hosts", str(s.known_hosts), "--rtt", str(n_exec), s.ips[0]]
    got = {}
    for name, script, extra in (
        ("paramiko", "_fanout_paramiko.py", []),
        ("paramiko+nodelay", "_fanout_paramiko.py", ["--nodelay"]),
        ("sealkit", "_fanout_sealkit_plan.py", []),
        ("sealkit+nodelay", "_fanout_sealkit_plan.py", ["--nodelay"]),
        ("sh", "_fanout_paramiko.py", ["--shell", "--cmd", "/bin/true"]),
    ):
        vals = []
        for _ in range(3):
            res = subprocess.run(
                [sys.executable, str(BENCH / script), *common, *extra],
                capture_output=True,
                text=True,
                check=True,
                env=s.env,
                timeout=300,
            )
            vals.append(json.loads(res.stdout)["rtt_median"])
        got[name] = statistics.median(vals)
    return got


# --------------------------------------------------------------------------------------- report
def table(
    cases: list[Case], rtts: dict[int, dict[str, float]], steps: int
) -> tuple[str, list[dict[str, object]]]:
    by_key = {c.key: c for c in cases if c.runs and not c.failed}
    rows: list[dict[str, object]] = []
    for c in cases:
        if c.failed or not c.runs:
            rows.append({"case": c.section, "tool": c.tool, "N": c.n, "window": c.window, "failed": c.failed})
            continue
        floor = by_key.get(("fan-out", "paramiko floor", c.n, c.window)) or by_key.get(
            ("fan-out", "paramiko floor", c.n, c.n)
        )
        base = floor.median() if floor else None
        row: dict[str, object] = {
            "case": c.section,
            "tool": c.tool,
            "N": c.n,
            "window": c.window,
            "median_s": round(c.median(), 3),
            "runs_s": [round(r.wall, 3) for r in c.runs],
            "cpu_s": round(statistics.median(r.cpu for r in c.runs), 2),
            "lab_sshd_cpu_s": round(statistics.median(r.lab_cpu for r in c.runs), 2),
            "others_cores": round(max(r.others for r in c.runs), 2),
            "load1": [r.load1 for r in c.runs],
            "x_floor": round(c.median() / base, 2) if base else None,
        }
        if c.section == "20-step" and base is not None and c.n in rtts:
            target = base + steps * rtts[c.n]["paramiko"]
            row["target_s"] = round(target, 3)
            row["x_target"] = round(c.median() / target, 2)
        rows.append(row)
    head = (
        f"{'case':8} {'tool':31} {'N':>3} {'win':>3} {'median s':>8} {'min–max s':>12} {'cpu s':>6} "
        f"{'sshd s':>6} {'others':>6} {'load1':>10} {'×floor':>6} {'×target':>7}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        if "failed" in r:
            lines.append(
                f"{r['case']:8} {r['tool']:31} {r['N']:>3} {r['window']:>3} "
                f"failed ({r['failed'] or 'no run'})"
            )
            continue
        runs = r["runs_s"]
        assert isinstance(runs, list)
        loads = r["load1"]
        assert isinstance(loads, list)
        lines.append(
            f"{r['case']:8} {r['tool']:31} {r['N']:>3} {r['window']:>3} {r['median_s']:>8.2f} "
            f"{f'{min(runs):.2f}–{max(runs):.2f}':>12} {r['cpu_s']:>6.2f} {r['lab_sshd_cpu_s']:>6.2f} "
            f"{r['others_cores']:>6.2f} {f'{min(loads):.2f}–{max(loads):.2f}':>10} "
            f"{r['x_floor'] if r['x_floor'] is not None else '':>6} {r.get('x_target', ''):>7}"
        )
    for n, rt in sorted(rtts.items()):
        floor = by_key.get(("fan-out", "paramiko floor", n, n))
        if floor:
            ms = {k: f"{v * 1e3:.1f} ms" for k, v in rt.items()}
            lines.append(
                f"N={n}: one step on an open connection (idle host): new exec channel {ms['paramiko']} "
                f"(+NODELAY {ms['paramiko+nodelay']}); sealkit Connection.run {ms['sealkit']} (+NODELAY "
                f"{ms['sealkit+nodelay']}); /bin/true written to a running sh {rt['sh'] * 1e3:.2f} ms"
            )
            lines.append(
                f"N={n}: {steps}-step target = fan-out floor {floor.median():.2f} s + {steps} × "
                f"{ms['paramiko']} = {floor.median() + steps * rt['paramiko']:.2f} s (with NODELAY round "
                f"trips: {floor.median() + steps * rt['paramiko+nodelay']:.2f} s)"
            )
        plan = by_key.get(("20-step", "paramiko floor", n, n))
        if floor and plan and steps > 1:
            per = (
                statistics.median(r.lab_cpu for r in plan.runs)
                - statistics.median(r.lab_cpu for r in floor.runs)
            ) / ((steps - 1) * n)
            lines.append(
                f"N={n}: the hosts' sshd spends {per * 1e3:.0f} ms CPU per extra exec channel (session, PAM, "
                f"shell): {steps} × {n} execs need ≥ {per * steps * n / (os.cpu_count() or 1):.1f} s of this "
                f"machine's {os.cpu_count()} cores, whatever the client does"
            )
    return "\n".join(lines), rows


# --------------------------------------------------------------------------------------- main
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hosts", type=int, nargs="+", default=[10, 50], help="host counts N (default 10 50)")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per tool and N (median reported)")
    ap.add_argument("--steps", type=int, default=20, help="commands per host in the plan case")
    ap.add_argument(
        "--skip-peers", action="store_true", help="only paramiko and sealkit (no pyinfra/Ansible)"
    )
    ap.add_argument("--skip-plan", action="store_true", help="only the fan-out case")
    ap.add_argument("--keep-lab", action="store_true", help="leave the lab (and the work dir) up")
    ap.add_argument("--reuse-lab", action="store_true", help="use a running bench-fanout lab if big enough")
    ap.add_argument(
        "--max-load", type=float, default=1.0, help="wait until load1 is below this (default 1.0)"
    )
    ap.add_argument(
        "--load-wait", type=float, default=1200, help="wait at most this many s in all (default 1200)"
    )
    ap.add_argument(
        "--machine-bashrc",
        action="store_true",
        help="give the hosts the machine's /root/.bashrc (pyenv init on every exec; default: /etc/skel's)",
    )
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    ns = sorted(set(args.hosts))
    max_n = ns[-1]

    from tests.lab import Lab
    from tests.lab.model import cgroup_name

    versions = ensure_peers() if not args.skip_peers else {}
    import paramiko

    import sealkit

    versions = {"sealkit": sealkit.__version__, "paramiko (sealkit)": paramiko.__version__, **versions}
    started = datetime.now(UTC)
    print(
        f"# fanout bench {started:%Y-%m-%d %H:%M} UTC on {platform.node()}: {os.cpu_count()} CPUs, "
        f"{platform.platform()}, Python {platform.python_version()}"
    )
    print(f"# versions: {json.dumps(versions)}")

    lab = None
    if args.reuse_lab:
        try:
            lab = Lab.load(LAB_NAME)
            if len(lab.visible) < max_n or not all(lab.is_running(h) for h in lab.visible[:max_n]):
                lab = None
        except Exception:  # noqa: BLE001 - no usable lab: bring one up
            lab = None
    if lab is None:
        t0 = time.monotonic()
        lab = Lab.up(max_n, name=LAB_NAME, replace=True)
        print(f"# lab {LAB_NAME}: {max_n} sshd hosts up in {time.monotonic() - t0:.1f}s")
    from tests.lab import cgroups

    lab_cg = cgroups.Layout.detect().v2.base / cgroup_name(LAB_NAME)
    work = Path(tempfile.mkdtemp(prefix="sealkit-bench-fanout-"))
    try:
        hosts = lab.visible[:max_n]
        if args.machine_bashrc:
            set_bashrc(lab, hosts, Path("/root/.bashrc").read_text())
            print("# hosts: the machine's /root/.bashrc (as lab hosts had it before fce806d)")
        else:
            skel = Path("/etc/skel/.bashrc")
            set_bashrc(lab, hosts, skel.read_text() if skel.is_file() else "")
            print("# hosts: /etc/skel/.bashrc as /root/.bashrc (a fresh Debian host's)")
        s = prepare(lab, work, ns, not args.skip_peers, 0 if args.skip_plan else args.steps)
        timer = Timer(lab_cg, work / "logs")
        (work / "logs").mkdir()
        by_n = {n: cases_for(s, n) for n in ns}
        print(f"# warm-up (untimed, N={ns[0]}): every tool once; work dir {work}", flush=True)
        for c in by_n[ns[0]]:
            timer.run(c)
        for n in ns:  # a tool that failed the warm-up is out for every N
            for c in by_n[n]:
                c.failed = next((w.failed for w in by_n[ns[0]] if w.tool == c.tool and w.failed), "")
        cases: list[Case] = []
        rtts: dict[int, dict[str, float]] = {}
        budget = args.load_wait
        for n in ns:
            now, waited = wait_for_load(args.max_load, budget, 30)
            budget = max(0.0, budget - waited)
            print(f"# N={n}: load1 {now:.2f} after waiting {waited:.0f}s", flush=True)
            if not args.skip_plan:
                rtts[n] = measure_rtt(s)
                print(f"  round trips: {json.dumps({k: round(v * 1e3, 2) for k, v in rtts[n].items()})} ms")
            for rep in range(args.repeat):
                for c in by_n[n]:
                    if c.failed:
                        continue
                    r = timer.run(c)
                    if r is None:
                        continue
                    c.runs.append(r)
                    print(
                        f"  [{rep + 1}/{args.repeat}] {c.section:8} {c.tool:31} N={n:<3} w={c.window:<3} "
                        f"{r.wall:6.2f}s cpu {r.cpu:5.2f}s sshd {r.lab_cpu:5.2f}s others {r.others:4.2f} "
                        f"load1 {r.load1:.2f}",
                        flush=True,
                    )
            cases += by_n[n]
        text, rows = table(cases, rtts, args.steps)
        print()
        print(text)
        print(
            "\ncolumns: win = hosts at once; cpu s = the tool's own CPU incl. reaped children; sshd s = CPU "
            "of the lab's sshds; others = average cores busy with anything else during the run (max over "
            "repeats); load1 = 1-min load average at each run's start; ×floor = median / paramiko fan-out "
            "floor (same N and window); ×target = median / (floor + steps × exec round trip)"
        )
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(
                json.dumps(
                    {"started": started.isoformat(), "versions": versions, "rtt": rtts, "rows": rows},
                    indent=1,
                )
                + "\n"
            )
    finally:
        if args.keep_lab:
            print(f"# kept lab {LAB_NAME} and work dir {work}")
        else:
            lab.down()
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
