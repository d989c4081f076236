"""No-op re-run benchmark: the journal-only re-run against the verifying one (issue 12 item 3).

    .venv/bin/python bench/noop_rerun.py --hosts 10 50 --repeat 3

Brings up one lab (``bench-noop``, max(N) systemd hosts; ``--sshd`` for sshd-only hosts, where units are
not asked), puts on every host what a joined k3s host holds for sealkit (a master: ``k3s.service``; the
others: ``k3s-agent.service``; the four rendered files of its k3s part, the registries.yaml and sealkit's
install marker), then for each N and repeat, from a fresh SSH fleet as a new ``sealkit run`` has:

* ``journal-only``: what a no-op re-run did before: connect to the first master and gather its facts
  (``_connect_for_plan`` for an empty plan) — nothing else is read;
* ``verifying``: the same, then :func:`sealkit.engine.verify.verify_hosts` over all N hosts: one round trip
  each (connect + the one verification command), parsed and judged against the recorded digests;
* ``floor``: a fresh fleet running ``true`` on all N hosts — what any check that contacts every host costs
  at least (connect + one exec); ``verifying`` minus ``floor`` is what the verification itself adds.

Both are timed in this process with the library, so the numbers are the engine's cost and leave out the
interpreter's start and the cluster image's resolution, which the two re-runs share. The verifying re-run
must find no drift on the prepared hosts, else the bench fails. Targets: ≤ 1 s at 10 hosts, ≤ 5 s at 50.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

LAB_NAME = "bench-noop"
TARGETS = {10: 1.0, 50: 5.0}
#: what a joined k3s host holds for sealkit, as paths and sizes alike to the real ones
FILES = {
    "/etc/rancher/k3s/config.yaml": 420,
    "/etc/systemd/system/k3s-agent.service.env": 80,
    "/etc/systemd/system/bench-k3s-agent.service": 900,
    "/var/lib/sealkit/k3s/token": 110,
    "/etc/rancher/k3s/registries.yaml": 600,
}


def _content(path: str, size: int, ip: str) -> bytes:
    return (f"# {path} on {ip}\n".encode() * (size // 20 + 1))[:size]


def expectations(ip: str, master: bool):
    from sealkit.hostops import Expectations, ExpectedFile

    unit = "k3s.service" if master else "k3s-agent.service"
    files = tuple(ExpectedFile(p, _content(p, n, ip), 0o600, (unit,)) for p, n in FILES.items())
    return Expectations(units=(unit,), files=files)


def prepare_hosts(lab, ips: list[str]) -> dict[str, dict[str, str]]:
    """Write the files on every host (through nsenter, not SSH) and return the digests a join records."""
    from sealkit.context import INSTALLED_MARKER

    records: dict[str, dict[str, str]] = {}
    for ip in ips:
        host = lab.host(ip)
        record = {}
        for path, size in FILES.items():
            data = _content(path, size, ip)
            lab.exec_on(
                host, ["sh", "-c", 'mkdir -p "$(dirname "$1")" && cat > "$1"', "-", path], input=data.decode()
            )
            record[path] = hashlib.sha256(data).hexdigest()
        lab.exec_on(host, ["sh", "-c", 'mkdir -p "$(dirname "$1")" && touch "$1"', "-", INSTALLED_MARKER])
        records[ip] = record
    return records


def _context(lab, ips: list[str], work: Path):
    """An engine context over ``ips`` with the lab's host keys pinned, as ``sealkit run`` opens it."""
    from sealkit.cluster import cluster_from_flags
    from sealkit.engine.options import Options
    from sealkit.engine.session import open_context
    from sealkit.state import ClusterState

    name = f"noop{len(ips)}"
    state = ClusterState(name, home=work)
    cluster = cluster_from_flags(
        masters=ips[0], nodes=",".join(ips[1:]), user="root", key=str(lab.hosts[0].root_key), name=name
    )
    state.dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(lab.known_hosts, state.known_hosts)
    return cluster, open_context(Options(cluster=name, strict_host_keys=True), cluster, state, runtime="k3s")


def measure(
    lab, ips: list[str], records: dict[str, dict[str, str]], work: Path
) -> tuple[float, float, float, float, float]:
    """Wall and controller-CPU seconds of one journal-only re-run and of one verifying re-run, each on a
    fresh fleet: (journal-only wall, verifying wall, journal-only CPU, verifying CPU), and the floor: a
    fresh fleet running ``true`` on every host (what any one-round-trip-per-host check costs at least)."""
    from sealkit.engine import verify
    from sealkit.engine.session import gather_facts

    cluster, opened = _context(lab, ips, work)
    with opened as ctx:
        t0, c0 = time.perf_counter(), time.process_time()
        gather_facts(ctx, cluster.masters[:1])
        journal_only, journal_cpu = time.perf_counter() - t0, time.process_time() - c0
    cluster, opened = _context(lab, ips, work)
    with opened as ctx:
        t0, c0 = time.perf_counter(), time.process_time()
        gather_facts(ctx, cluster.masters[:1])
        expected = {ip: expectations(ip, ip == ips[0]) for ip in ips}
        verdicts, failed = verify.verify_hosts(ctx, expected, records)
        verifying, verifying_cpu = time.perf_counter() - t0, time.process_time() - c0
    cluster, opened = _context(lab, ips, work)
    with opened as ctx:
        t0 = time.perf_counter()
        floor_results = ctx.fleet.run("true", ips, timeout=60)
        floor = time.perf_counter() - t0
    if any(isinstance(r, BaseException) for r in floor_results.values()):
        raise SystemExit(f"the floor run failed: {floor_results}")
    if failed:
        raise SystemExit(f"verification failed on {len(failed)} host(s): {failed}")
    drift = [d.describe() for v in verdicts.values() for d in v.drift]
    if drift:
        raise SystemExit(f"the prepared hosts show drift: {drift[:5]}")
    return journal_only, verifying, journal_cpu, verifying_cpu, floor


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hosts", type=int, nargs="+", default=[10, 50])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sshd", action="store_true", help="sshd-only hosts (no systemd: units not asked)")
    args = ap.parse_args()
    from tests.lab.core import Lab

    max_n = max(args.hosts)
    t0 = time.monotonic()
    lab = Lab.up(max_n, systemd=not args.sshd, name=LAB_NAME, replace=True, timeout=240.0)
    kind = "sshd" if args.sshd else "systemd"
    print(f"# lab {LAB_NAME}: {max_n} {kind} hosts up in {time.monotonic() - t0:.1f}s")
    work = Path(tempfile.mkdtemp(prefix="sealkit-bench-noop-"))
    failed = False
    try:
        ips = [h.ip for h in lab.visible]
        if not args.sshd:
            for ip in ips:  # the units exist and run, as on a joined host
                unit = "k3s.service" if ip == ips[0] else "k3s-agent.service"
                text = "[Service]\nExecStart=/bin/sleep infinity\n[Install]\nWantedBy=multi-user.target\n"
                path = f"/etc/systemd/system/{unit}"
                lab.exec_on(ip, ["sh", "-c", 'cat > "$1"', "-", path], input=text)
                lab.exec_on(ip, f"systemctl daemon-reload && systemctl enable -q --now {unit}")
        records = prepare_hosts(lab, ips)
        print(
            f"{'hosts':>5}  {'journal-only s':>14}  {'verifying s':>11}  {'ratio':>5}  "
            f"{'j-o CPU s':>9}  {'verif. CPU s':>12}  {'floor s':>7}  {'target s':>8}"
        )
        for n in sorted(args.hosts):
            runs = [measure(lab, ips[:n], records, work) for _ in range(args.repeat)]
            jo, ve, jc, vc, fl = (statistics.median(r[i] for r in runs) for i in range(5))
            target = TARGETS.get(n)
            ok = target is None or ve <= target
            failed = failed or not ok
            print(
                f"{n:>5}  {jo:>14.3f}  {ve:>11.3f}  {ve / jo:>5.1f}  {jc:>9.3f}  {vc:>12.3f}  {fl:>7.3f}  "
                f"{'' if target is None else f'{target:.1f}':>8}{'' if ok else '  OVER TARGET'}"
            )
        print(
            f"# medians of {args.repeat} runs; each run opens a fresh SSH fleet (host keys pinned); CPU is "
            "this process's (all threads): on a shared machine it says what the wall time would be unloaded"
        )
    finally:
        lab.down()
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
