"""``python -m tests.lab up|status|down`` — the lab from a shell (run from the repository root)."""

from __future__ import annotations

import argparse
import json
import sys
import time

from tests.lab.core import Lab, names, teardown, teardown_all
from tests.lab.env import check_environment
from tests.lab.model import LabError, lab_root


def _up(args: argparse.Namespace) -> int:
    problems = check_environment()
    if problems:
        print("the lab cannot start here:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 2
    t0 = time.monotonic()
    lab = Lab.up(
        args.hosts,
        systemd=args.systemd,
        hidden=args.jump,
        name=args.name,
        replace=args.replace,
        timeout=args.timeout,
    )
    took = time.monotonic() - t0
    print(
        f"lab {lab.name}: {len(lab.all_hosts)} hosts up in {took:.1f}s, subnet {lab.subnet}"
        + (f", hidden {lab.inner_subnet} behind {lab.jump.ip}" if lab.jump else ""),
        file=sys.stderr,
    )
    print(f"inventory: {lab.inventory_file}")
    print(f"ssh:       ssh -F {lab.ssh_config} {lab.all_hosts[0].hostname}")
    print(
        f"sudo user: ssh -F {lab.ssh_config} {lab.hosts[0].user}@{lab.hosts[0].hostname}"
        "  (password in the inventory)"
    )
    return 0


def _status(args: argparse.Namespace) -> int:
    wanted = [args.name] if args.name else names()
    out = []
    for n in wanted:
        try:
            lab = Lab.load(n)
        except LabError as exc:
            out.append({"name": n, "error": str(exc)})
            continue
        out.append({"name": n, "dir": str(lab.dir), "subnet": lab.subnet, "hosts": lab.status()})
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    if not out:
        print(f"no labs (root {lab_root()})")
    for lab_doc in out:
        if "error" in lab_doc:
            print(f"{lab_doc['name']}: leftovers only ({lab_doc['error']}) — `down --name {lab_doc['name']}`")
            continue
        print(f"{lab_doc['name']}  {lab_doc['dir']}  {lab_doc['subnet']}")
        for h in lab_doc["hosts"]:  # type: ignore[union-attr]
            state = "up" if h["sshd"] else ("booting" if h["running"] else "down")
            kind = "hidden" if h["hidden"] else ("jump" if h["jump"] else h["role"])
            print(f"  {h['name']:<10} {h['ip']:<15} {kind:<7} {state}")
    return 0


def _down(args: argparse.Namespace) -> int:
    t0 = time.monotonic()
    removed = teardown_all() if args.all else teardown(args.name)
    print(f"removed {len(removed)} lab objects in {time.monotonic() - t0:.1f}s", file=sys.stderr)
    for item in removed:
        print(f"  {item}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.lab", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="bring up a lab")
    up.add_argument("--hosts", type=int, default=5, help="regular hosts (default 5)")
    up.add_argument("--systemd", action="store_true", help="systemd as PID 1 instead of sshd")
    up.add_argument(
        "--jump",
        type=int,
        default=0,
        metavar="N_HIDDEN",
        help="add a jump host with N hidden hosts behind it",
    )
    up.add_argument("--name", default="default")
    up.add_argument("--replace", action="store_true", help="tear down a lab of that name first")
    up.add_argument("--timeout", type=float, default=60.0)
    up.set_defaults(func=_up)
    st = sub.add_parser("status", help="show labs and their hosts")
    st.add_argument("--name")
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=_status)
    dn = sub.add_parser("down", help="tear a lab down (also the leftovers of a crashed run)")
    g = dn.add_mutually_exclusive_group()
    g.add_argument("--name", default="default")
    g.add_argument("--all", action="store_true", help="every sklab object on this machine")
    dn.set_defaults(func=_down)
    args = ap.parse_args(argv)
    try:
        return int(args.func(args))
    except LabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
