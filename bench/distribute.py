"""Rootfs distribution benchmark: one copy vs direct copies to every host vs the host-to-host relay.

Brings up a lab of N hosts (tests.lab), shapes the controller's link with tc (tbf, default 1 Gbit/s),
builds a random payload rootfs, and measures in one run:

  (a)  one single copy to one host: the payload tar through sealkit's SSH transport (paramiko) into
       ``cat > file`` — the yardstick every ratio is against;
  (a') the same with OpenSSH's ssh client (reference only);
  (a2) push_rootfs to one host (sealkit's single-host path: spooled tar, sha256sum -c, rename);
  (b)  push_rootfs to every host in parallel (the old way: N copies over the controller's link);
  (c)  push_rootfs_many (relay chain; one copy over the controller's link);
  (d)  push_rootfs_many again, nothing to send.

For each phase it reports where the CPU went: the controller process (paramiko's encryption, tar
generation), the lab hosts (cgroup cpu.stat: sshd decryption, the relay helper's TLS decryption and
re-encryption per hop, file writes, hashing), and everything else on the machine (other users' jobs,
kernel writeback).

  python bench/distribute.py --hosts 10 20            # 512 MiB payload
  python bench/distribute.py --quick                  # 64 MiB, 4 hosts
Needs root (the lab). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sealkit.context import ClusterContext
from sealkit.engine import distribute
from sealkit.engine.distribute import _parallel, local_manifest, push_rootfs, push_rootfs_many
from sealkit.engine.relay import TarStream
from tests.lab import Lab
from tests.lab_distribute.labctx import lab_context, make_rootfs

CLK = os.sysconf("SC_CLK_TCK")


def _kernel_cpu() -> float:
    """CPU seconds of kernel threads (writeback, ksoftirqd …: children of kthreadd) + irq/softirq."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parts = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if parts[1] == "2":  # ppid: kthreadd
            total += int(parts[11]) + int(parts[12])
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (total + fields[5] + fields[6]) / CLK


@dataclass
class Cpu:
    """CPU seconds used so far: this process, the lab hosts' cgroups, kernel threads, the machine."""

    controller: float
    hosts: float
    machine: float
    per_host: dict[str, float] = field(default_factory=dict)
    kernel: float = 0.0

    @classmethod
    def now(cls, lab: Lab) -> Cpu:
        ru = resource.getrusage(resource.RUSAGE_SELF)
        per_host = {}
        for h in lab.hosts:
            stat = (lab._cg(h) / "cpu.stat").read_text().split()
            per_host[h.ip] = int(stat[stat.index("usage_usec") + 1]) / 1e6
        fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        busy = sum(fields) - fields[3] - fields[4]  # minus idle and iowait
        return cls(ru.ru_utime + ru.ru_stime, sum(per_host.values()), busy / CLK, per_host, _kernel_cpu())

    def __sub__(self, other: Cpu) -> Cpu:
        return Cpu(
            self.controller - other.controller,
            self.hosts - other.hosts,
            self.machine - other.machine,
            {ip: v - other.per_host.get(ip, 0.0) for ip, v in self.per_host.items()},
            self.kernel - other.kernel,
        )


@dataclass
class Row:
    phase: str
    seconds: float
    sent: int
    cpu: Cpu
    note: str = ""


def measure(lab: Lab, phase: str, fn: Callable[[], int], note: str = "") -> Row:
    before, start = Cpu.now(lab), time.perf_counter()
    sent = fn()
    seconds = time.perf_counter() - start
    row = Row(phase, seconds, sent, Cpu.now(lab) - before, note)
    print(f"  {phase}: {seconds:.2f}s", flush=True)
    return row


def clean(ctx: ClusterContext) -> None:
    """Every host back to no rootfs, and the machine's dirty pages written out (each phase starts alike)."""
    ctx.fleet.run(f"rm -rf {ctx.remote_rootfs} /var/tmp/sealkit-bench.*", timeout=300)
    settle()


def settle() -> None:
    os.sync()


def prepare_hosts(lab: Lab, args: argparse.Namespace) -> None:
    """Per host, in its own overlay/mount namespace only: an empty /root/.bashrc (the machine's runs
    ``pyenv init`` — a rehash lock shared through the overlay's lower layer can stall a login 60 s), and
    with --tmpfs, tmpfs at /var/lib/sealkit and /var/tmp (N hosts share one disk and one dirty-page
    budget here; real hosts each have their own)."""
    for h in lab.hosts:
        if not args.keep_bashrc:
            lab.exec_on(h, ": > /root/.bashrc")
        if args.tmpfs:
            lab.exec_on(
                h,
                "mkdir -p /var/lib/sealkit && "
                "mount -t tmpfs -o size=4g,mode=0755 sealkit /var/lib/sealkit && "
                "mount -t tmpfs -o size=4g,mode=1777 vartmp /var/tmp",
            )


def run_lab(args: argparse.Namespace, n: int, rootfs: Path, payload: int) -> dict[str, Any]:
    name = f"bench-{os.getpid()}-{n}-{secrets.token_hex(2)}"
    print(f"\n== {n} hosts: bringing up lab {name}", flush=True)
    lab = Lab.up(n, name=name)
    home = Path(tempfile.mkdtemp(prefix="sealkit-bench-home-"))
    rows: list[Row] = []
    relay_facts: dict[str, dict[str, Any]] = {}
    try:
        prepare_hosts(lab, args)
        lab.shape(args.rate)
        if args.shape_hosts:  # every host's own link too, as real NICs: a tree node's uplink carries k copies
            for h in lab.hosts:
                lab.shape(args.rate, host=h)
        settle()
        with lab_context(lab, lab.hosts, home, concurrency=max(32, n)) as ctx:
            ips = list(ctx.hosts)
            first = ctx.hosts[ips[0]]
            files = sorted(
                (e for e in local_manifest(rootfs).values() if e.kind == "f"), key=lambda e: e.path
            )
            ctx.fleet.run("true", timeout=60)  # SSH handshakes are not part of any phase
            mb = payload >> 20
            rows.append(
                measure(
                    lab,
                    "warm-up: write+delete payload-size file on every host",
                    lambda: (
                        ctx.fleet.run(
                            f"dd if=/dev/zero of=/var/tmp/sealkit-bench.warm bs=1M count={mb} 2>/dev/null "
                            "&& rm -f /var/tmp/sealkit-bench.warm",
                            timeout=600,
                        ),
                        0,
                    )[1],
                    "lab artifact: first touch of guest memory",
                )
            )
            settle()

            def single() -> int:
                stream = TarStream(rootfs, files)
                first.conn.run(
                    "cat > /var/tmp/sealkit-bench.blob && rm -f /var/tmp/sealkit-bench.blob",
                    stdin=stream,  # type: ignore[arg-type]
                    timeout=600,
                )
                return stream.read_bytes

            rows.append(measure(lab, "(a) one copy: paramiko to cat > file", single))

            def openssh() -> int:
                tar = subprocess.Popen(["tar", "-cf", "-", "-C", str(rootfs), "."], stdout=subprocess.PIPE)
                subprocess.run(
                    [
                        "ssh",
                        "-F",
                        str(lab.ssh_config),
                        lab.hosts[0].hostname,
                        "cat > /var/tmp/sealkit-bench.blob",
                    ],
                    stdin=tar.stdout,
                    check=True,
                )
                tar.wait()
                first.conn.run("rm -f /var/tmp/sealkit-bench.blob")
                return payload

            rows.append(measure(lab, "(a') one copy: OpenSSH ssh to cat > file", openssh, "reference"))
            rows.append(measure(lab, "(a2) push_rootfs to 1 host", lambda: push_rootfs(ctx, ips[0], rootfs)))
            clean(ctx)
            if not args.skip_direct:

                def direct() -> int:
                    res = _parallel(lambda ip: push_rootfs(ctx, ip, rootfs), ips, max(32, n))
                    bad = [f"{ip}: {r}" for ip, r in res if isinstance(r, BaseException)]
                    if bad:
                        raise SystemExit("direct push failed:\n" + "\n".join(bad))
                    return sum(r for _, r in res)

                rows.append(measure(lab, f"(b) push_rootfs x{n} in parallel (old way)", direct))
                clean(ctx)
            for i, fanout in enumerate(args.fanout):
                topo = "chain" if fanout == 1 else f"tree/{fanout}"
                distribute.RELAY_VERIFY = args.verify
                rows.append(
                    measure(
                        lab,
                        f"(c) push_rootfs_many, relay {topo}",
                        lambda fanout=fanout: sum(
                            push_rootfs_many(ctx, dict.fromkeys(ips, rootfs), fanout=fanout).values()
                        ),
                        f"verify={args.verify}",
                    )
                )
                relay_facts = {ip: dict(h.facts) for ip, h in ctx.hosts.items()}
                modes = {f.get("distribute_mode") for f in relay_facts.values()}
                if modes != {"relay"}:
                    errors = {
                        ip: f.get("relay_error") or f.get("relay_skipped") for ip, f in relay_facts.items()
                    }
                    print(f"  !! not every host was relayed: {errors}")
                rows.append(
                    measure(
                        lab,
                        "(d) push_rootfs_many again, nothing to send",
                        lambda: sum(push_rootfs_many(ctx, dict.fromkeys(ips, rootfs)).values()),
                    )
                )
                if i + 1 < len(args.fanout):
                    clean(ctx)
    finally:
        try:
            lab.unshape()
        finally:
            lab.down()
            shutil.rmtree(home, ignore_errors=True)
    return {"hosts": n, "rows": rows, "relay_facts": relay_facts, "lab": lab}


def report(args: argparse.Namespace, result: dict[str, Any], payload: int) -> None:
    rows: list[Row] = result["rows"]
    n = result["hosts"]
    base = next(r for r in rows if r.phase.startswith("(a)"))
    links = f"{args.rate} (tc tbf)" + (", every host's link too" if args.shape_hosts else "")
    storage = "tmpfs" if args.tmpfs else "disk (overlay)"
    bashrc = "the machine's" if args.keep_bashrc else "an empty"
    print(
        f"\n### {n} hosts, payload {payload / 2**20:.0f} MiB in {args.files} files, controller link {links}, "
        f"hosts write to {storage}, {bashrc} .bashrc, 2 cores shared by controller + hosts + other users\n"
    )
    head = (
        "| phase | seconds | × (a) | controller sent MiB | CPU s: controller | CPU s: lab hosts "
        "| CPU s: kernel threads + irq | CPU s: other users | machine busy % |"
    )
    print(head)
    print("|" + "---|" * 9)
    for r in rows:
        other = max(0.0, r.cpu.machine - r.cpu.controller - r.cpu.hosts - r.cpu.kernel)
        busy = 100 * r.cpu.machine / (2 * r.seconds) if r.seconds else 0
        ratio = f"{r.seconds / base.seconds:.2f}" if not r.phase.startswith("warm") else ""
        note = f" ({r.note})" if r.note else ""
        print(
            f"| {r.phase}{note} | {r.seconds:.2f} | {ratio} | {r.sent / 2**20:.1f} | {r.cpu.controller:.2f} "
            f"| {r.cpu.hosts:.2f} | {max(0.0, r.cpu.kernel):.2f} | {other:.2f} | {busy:.0f} |"
        )
    facts = result["relay_facts"]
    stats = [f["relay_stats"] for f in facts.values() if f.get("relay_stats")]
    if stats:
        relay_row = next(r for r in reversed(rows) if r.phase.startswith("(c)"))

        def avg(key: str) -> float:
            return sum(s[key] for s in stats) / len(stats)

        head_ip = next(iter(facts))
        timing = next(iter(facts.values())).get("distribute_timing", {})
        print(
            f"\nrelay, per host (mean of {len(stats)}; engine {stats[0].get('engine')}, "
            f"{stats[-1].get('cipher')}): "
            f"setup {avg('setup_s'):.2f}s, stream {avg('stream_s'):.2f}s, verify {avg('verify_s'):.2f}s, "
            f"commit {avg('commit_s'):.2f}s; CPU: relay+write {avg('cpu_relay_s'):.2f}s, "
            f"verify {avg('cpu_verify_s'):.2f}s; host cgroup total "
            f"{relay_row.cpu.hosts / len(relay_row.cpu.per_host):.2f}s "
            f"(first host {relay_row.cpu.per_host.get(head_ip, 0):.2f}s, incl. sshd decryption)"
        )
        print(f"relay call, controller side: {timing}")
        # the lab's hosts share this machine's cores: the chain cannot finish before the CPU it needs is
        # spent, whatever the design (on real hosts every hop has its own CPU and the hops overlap)
        cores = os.cpu_count() or 1
        need = relay_row.cpu.controller + relay_row.cpu.hosts + max(0.0, relay_row.cpu.kernel)
        one = next(r for r in rows if r.phase.startswith("(a)"))
        print(
            f"lab bound: (c) needs {need:.1f} CPU s on {cores} cores, so >= {need / cores:.2f}s "
            f"= {need / cores / one.seconds:.2f}x (a) even on an idle machine"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hosts", type=int, nargs="+", default=[10])
    ap.add_argument("--size-mb", type=int, default=512)
    ap.add_argument("--files", type=int, default=4, help="the payload is split into this many files")
    ap.add_argument("--rate", default="1gbit", help="tc rate of the controller's link")
    ap.add_argument(
        "--fanout", type=int, nargs="+", default=[1], help="1 = chain; 2 = binary tree; both: 1 2"
    )
    ap.add_argument("--verify", choices=["stream", "hashlib", "sha256sum"], default=distribute.RELAY_VERIFY)
    ap.add_argument("--skip-direct", action="store_true", help="skip (b), the slow old way")
    ap.add_argument("--quick", action="store_true", help="64 MiB payload, 4 hosts")
    ap.add_argument("--tmpfs", action="store_true", help="hosts write to tmpfs, not the machine's one disk")
    ap.add_argument("--shape-hosts", action="store_true", help="shape every host's link at --rate too")
    ap.add_argument("--keep-bashrc", action="store_true", help="keep the machine's /root/.bashrc on hosts")
    ap.add_argument("--json", type=Path, help="also write the numbers here")
    ap.add_argument(
        "--relay-helper",
        type=Path,
        help="run this relay helper program instead of sealkit's (A/B of two versions under one load)",
    )
    args = ap.parse_args()
    if args.relay_helper:
        distribute.RELAY_HELPER = args.relay_helper.read_text()
    if args.quick:
        args.size_mb = min(args.size_mb, 64)
        args.hosts = [4] if args.hosts == [10] else args.hosts
    if os.geteuid() != 0:
        raise SystemExit("the lab needs root")
    work = Path(tempfile.mkdtemp(prefix="sealkit-bench-"))
    try:
        each = (args.size_mb << 20) // args.files
        rootfs = make_rootfs(
            work / "rootfs", {f"images/layer-{i}.tar": each for i in range(args.files)}, seed=7
        )
        payload = each * args.files
        local_manifest(rootfs)  # hashed once, cached beside the rootfs (as for a real image)
        results = []
        for n in args.hosts:
            results.append(run_lab(args, n, rootfs, payload))
            report(args, results[-1], payload)
        if args.json:
            args.json.write_text(
                json.dumps(
                    [
                        {
                            "hosts": r["hosts"],
                            "rows": [
                                {
                                    "phase": x.phase,
                                    "seconds": x.seconds,
                                    "sent": x.sent,
                                    "cpu_controller": x.cpu.controller,
                                    "cpu_hosts": x.cpu.hosts,
                                    "cpu_machine": x.cpu.machine,
                                }
                                for x in r["rows"]
                            ],
                            "relay_stats": {ip: f.get("relay_stats") for ip, f in r["relay_facts"].items()},
                        }
                        for r in results
                    ],
                    indent=2,
                )
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
