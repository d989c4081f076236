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
  - the target: paramiko fan-out floor + 20 × the exec round trip measured on an open connection.

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

    def run(self, case: Case) -> Run:
        self.count += 1
        log = self.logdir / f"{self.count:03d}-{case.section}-{case.tool.replace(' ', '_').replace('/', '-')}-{case.n}.log"
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
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-25:])
            raise SystemExit(
                f"{case.tool} (N={case.n}) exited {p.returncode}: {' '.join(case.argv)}\n{tail}\n(log: {log})"
            )
        cpu = ru.ru_utime + ru.ru_stime
        lab_cpu = (u1 - u0) / 1e6
        others = max(0.0, (b1 - b0) / TICK - cpu - lab_cpu) / wall
        return Run(wall, cpu, lab_cpu, others, l1)


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
    ansible_dirs: list[Path] = field(default_factory=list)

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
    py = sys.executable
    floor = str(BENCH / "_fanout_paramiko.py")
    plan = str(BENCH / "_fanout_sealkit_plan.py")
    ips = s.ips[:n]
    common = ["--key", str(s.key), "--known-hosts", str(s.known_hosts)]
    w, env, cwd = n, s.env, s.work
    out: list[Case] = []
    for win in sorted({n, min(n, SEALKIT_WINDOW)}, reverse=True):
        out.append(
            Case(
                "fan-out",
                "paramiko floor",
                n,
                win,
                [py, floor, *common, "--workers", str(win), *ips],
                env,
                cwd,
            )
        )
        sk = [
            str(REPO / ".venv/bin/sealkit"),
            "-q",
            "--concurrency",
            str(win),
            "--cluster",
            f"bench{n}",
            "exec",
            "true",
        ]
        out.append(Case("fan-out", "sealkit exec", n, win, sk, env, cwd))
    if s.peers:
        peers = PEERS / "bin"
        inv_py, inv_ini = str(s.work / f"pyinfra_inv{n}.py"), str(s.work / f"ansible_inv{n}.ini")
        pyinfra = [str(peers / "pyinfra"), "-y", "--parallel", str(w), inv_py]
        out.append(Case("fan-out", "pyinfra exec", n, w, [*pyinfra, "exec", "--", "true"], env, cwd))
        for mod in ("command", "raw"):
            aenv, after = s.ansible_env(n, mod)
            argv = [str(peers / "ansible"), "all", "-i", inv_ini, "-f", str(w), "-m", mod, "-a", "true"]
            out.append(Case("fan-out", f"ansible -m {mod}", n, w, argv, aenv, cwd, after))
    st = str(s.steps)
    out.append(
        Case(
            "20-step",
            "paramiko floor",
            n,
            w,
            [py, floor, *common, "--workers", str(w), "--steps", st, *ips],
            env,
            cwd,
        )
    )
    shell = [py, floor, *common, "--workers", str(w), "--steps", st, "--shell", "--cmd", "/bin/true", *ips]
    out.append(Case("20-step", "paramiko 1 sh/host", n, w, shell, env, cwd))
    for mode in ("per-host", "barrier"):
        argv = [py, plan, *common, "--workers", str(w), "--steps", st, "--mode", mode, *ips]
        out.append(Case("20-step", f"sealkit Fleet {mode}", n, w, argv, env, cwd))
    if s.peers:
        peers = PEERS / "bin"
        inv_py, inv_ini = str(s.work / f"pyinfra_inv{n}.py"), str(s.work / f"ansible_inv{n}.ini")
        argv = [str(peers / "pyinfra"), "-y", "--parallel", str(w), inv_py, str(s.work / "pyinfra_plan.py")]
        out.append(Case("20-step", "pyinfra deploy", n, w, argv, env, cwd))
        aenv, after = s.ansible_env(n, "playbook")
        argv = [
            str(peers / "ansible-playbook"),
            "-i",
            inv_ini,
            "-f",
            str(w),
            str(s.work / "ansible_plan.yml"),
        ]
        out.append(Case("20-step", "ansible-playbook", n, w, argv, aenv, cwd, after))
    return out


def measure_rtt(s: Setup, n_exec: int = 30) -> dict[str, float]:
    """Median round trip of one step on one open connection (one idle host): a new exec channel with
    bare paramiko and with sealkit's Connection.run, and a line written to a running ``sh``."""
    common = ["--key", str(s.key), "--known-hosts", str(s.known_hosts), "--rtt", str(n_exec), s.ips[0]]
    got = {}
    for name, script, extra in (
        ("paramiko", "_fanout_paramiko.py", []),
        ("sealkit", "_fanout_sealkit_plan.py", []),
        ("sh", "_fanout_paramiko.py", ["--shell", "--cmd", "/bin/true"]),
    ):
        vals = []
        for _ in range(3):
            out = subprocess.run(
                [sys.executable, str(BENCH / script), *common, *extra],
                capture_output=True,
                text=True,
                check=True,
                env=s.env,
            )
            vals.append(json.loads(out.stdout)["rtt_median"])
        got[name] = statistics.median(vals)
    return got


# --------------------------------------------------------------------------------------- report
def table(
    cases: list[Case], rtts: dict[int, dict[str, float]], steps: int
) -> tuple[str, list[dict[str, object]]]:
    by_key = {c.key: c for c in cases if c.runs}
    rows: list[dict[str, object]] = []
    for c in cases:
        if not c.runs:
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
        f"{'case':8} {'tool':25} {'N':>3} {'win':>3} {'median s':>8} {'min–max s':>12} {'cpu s':>6} "
        f"{'sshd s':>6} {'others':>6} {'load1':>10} {'×floor':>6} {'×target':>7}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        runs = r["runs_s"]
        assert isinstance(runs, list)
        loads = r["load1"]
        assert isinstance(loads, list)
        lines.append(
            f"{r['case']:8} {r['tool']:25} {r['N']:>3} {r['window']:>3} {r['median_s']:>8.2f} "
            f"{f'{min(runs):.2f}–{max(runs):.2f}':>12} {r['cpu_s']:>6.2f} {r['lab_sshd_cpu_s']:>6.2f} "
            f"{r['others_cores']:>6.2f} {f'{min(loads):.2f}–{max(loads):.2f}':>10} "
            f"{r['x_floor'] if r['x_floor'] is not None else '':>6} {r.get('x_target', ''):>7}"
        )
    for n, rt in sorted(rtts.items()):
        floor = by_key.get(("fan-out", "paramiko floor", n, n))
        if floor:
            lines.append(
                f"N={n}: one step on an open connection (idle host): new exec channel "
                f"{rt['paramiko'] * 1e3:.1f} ms (sealkit Connection.run {rt['sealkit'] * 1e3:.1f} ms), "
                f"/bin/true in a running sh {rt['sh'] * 1e3:.2f} ms; {steps}-step target = fan-out floor "
                f"{floor.median():.2f} s + {steps} × {rt['paramiko'] * 1e3:.1f} ms = "
                f"{floor.median() + steps * rt['paramiko']:.2f} s"
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
    ap.add_argument("--load-wait", type=float, default=1200, help="give up waiting after this many s")
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
        s = prepare(lab, work, ns, not args.skip_peers, args.steps)
        timer = Timer(lab_cg, work / "logs")
        (work / "logs").mkdir()
        by_n = {
            n: [c for c in cases_for(s, n) if not (args.skip_plan and c.section == "20-step")] for n in ns
        }
        print(f"# warm-up (untimed, N={ns[0]}): every tool once; work dir {work}", flush=True)
        for c in by_n[ns[0]]:
            timer.run(c)
        cases: list[Case] = []
        rtts: dict[int, dict[str, float]] = {}
        for n in ns:
            now, waited = wait_for_load(args.max_load, args.load_wait, 30)
            print(f"# N={n}: load1 {now:.2f} after waiting {waited:.0f}s", flush=True)
            if not args.skip_plan:
                rtts[n] = measure_rtt(s)
            for rep in range(args.repeat):
                for c in by_n[n]:
                    c.runs.append(timer.run(c))
                    r = c.runs[-1]
                    print(
                        f"  [{rep + 1}/{args.repeat}] {c.section:8} {c.tool:25} N={n:<3} w={c.window:<3} "
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
