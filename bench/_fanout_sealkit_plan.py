"""An S-step plan on many hosts through sealkit's public SSH API (persistent connections).

Run by bench/fanout.py as a fresh process:

    python bench/_fanout_sealkit_plan.py --key K --known-hosts F --workers W --steps S \
        --mode per-host|barrier IP...
    python bench/_fanout_sealkit_plan.py --key K --known-hosts F --rtt 30 IP

``per-host``: one ``Fleet.map`` in which every host runs its S commands back to back on its one
connection (a host never waits for another). ``barrier``: S ``Fleet.run`` calls, each waiting for
every host before the next step starts — how the engine runs phases, and how Ansible's linear
strategy and pyinfra run operations. Either way each host is connected once.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

from sealkit.ssh import Connection, Fleet, HostKeyPolicy, Target


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--key", required=True)
    ap.add_argument("--known-hosts", required=True)
    ap.add_argument("--workers", type=int, default=32)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--cmd", default="true")
    ap.add_argument("--mode", choices=("per-host", "barrier"), default="per-host")
    ap.add_argument("--rtt", type=int, default=0, help="measure: median of N runs on one open connection")
    ap.add_argument("--nodelay", action="store_true", help="with the proposed fix (bench/_nodelay.py)")
    ap.add_argument("ips", nargs="+")
    args = ap.parse_args()
    if args.nodelay:
        import _nodelay

        _nodelay.enable()
    policy = HostKeyPolicy(args.known_hosts, mode="strict", user_known_hosts=None)
    targets = [Target(ip, key_path=args.key) for ip in args.ips]

    if args.rtt:
        with Connection(targets[0], hostkeys=policy) as conn:
            conn.connect()
            times = []
            for _ in range(args.rtt):
                t0 = time.perf_counter()
                conn.run(args.cmd)
                times.append(time.perf_counter() - t0)
        print(json.dumps({"rtt_median": statistics.median(times), "rtt_min": min(times)}))
        return 0

    failed: dict[str, BaseException] = {}
    with Fleet(targets, hostkeys=policy, concurrency=args.workers) as fleet:
        if args.mode == "per-host":

            def plan(conn: Connection) -> None:
                for _ in range(args.steps):
                    conn.run(args.cmd)

            for ip, res in fleet.map(plan).items():
                if isinstance(res, BaseException):
                    failed[ip] = res
        else:
            live = list(fleet.addresses)
            for _ in range(args.steps):
                for ip, res in fleet.run(args.cmd, live).items():
                    if isinstance(res, BaseException):
                        failed[ip] = res
                live = [ip for ip in live if ip not in failed]
    for ip, exc in failed.items():
        print(f"{ip}: {type(exc).__name__}: {exc}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
