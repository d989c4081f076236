"""Run a client tool of a test image on this machine (test and demo only): `redis-cli` of the redis image.

Why: the controller has no redis-cli and nothing may be installed on it; the redis test image carries
Debian's redis-cli with every library it loads, so its unpacked rootfs runs it with its own loader.

    python -m tests.testimages.client --root DIR redis-cli -h HOST -p PORT -a PASSWORD PING
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from tests.testimages.build import host_argv, redis_image, unpack

#: tool name → (image spec factory, path of the tool inside the image)
TOOLS = {"redis-cli": (redis_image, "usr/bin/redis-cli")}


def tool_argv(root: Path, tool: str) -> list[str]:
    """argv of ``tool`` from its image unpacked under ``root`` (unpacked on first use)."""
    make, path = TOOLS[tool]
    if not (root / path).exists():
        unpack(make(), root)
    return host_argv(root, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True, type=Path, help="where the image's rootfs is unpacked")
    parser.add_argument("tool", choices=sorted(TOOLS))
    parser.add_argument("args", nargs=argparse.REMAINDER)
    ns = parser.parse_args(argv)
    cmd = [*tool_argv(ns.root, ns.tool), *ns.args]
    os.execv(cmd[0], cmd)
    return 127  # not reached: execv replaces this process


if __name__ == "__main__":
    sys.exit(main())
