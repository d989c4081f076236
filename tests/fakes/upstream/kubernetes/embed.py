"""Copy this directory's data files into tests/fakes/fakelib.py (EMBEDDED_UPSTREAM), so a bundled fake
(one file on a lab host, tests/fakes/bundle.py) carries the facts it enforces.

    python3 tests/fakes/upstream/kubernetes/embed.py

tests/fakes/test_upstream_kubeadm.py fails when the embedded copy differs from the files.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
FAKELIB = HERE.parents[1] / "fakelib.py"
MARK = "EMBEDDED_UPSTREAM: dict[str, str] = "


#: the tools whose per-release data the bundled fakes carry (``upstream/<tool>/v*.yaml``)
TOOLS = ("kubernetes", "k0s")


def embedded() -> dict[str, str]:
    """``{"kubernetes/v1.34": text, "k0s/v1.33.1+k0s.0": text, …}`` of the data files."""
    return {
        f"{tool}/{p.stem}": p.read_text(encoding="utf-8")
        for tool in TOOLS
        for p in sorted((HERE.parent / tool).glob("v*.yaml"))
    }


def main() -> int:
    src = FAKELIB.read_text(encoding="utf-8")
    head, sep, _ = src.partition(MARK)
    if not sep:
        sys.stderr.write(f"{FAKELIB}: no line starting with {MARK!r}\n")
        return 1
    body = "{\n" + "".join(f"    {k!r}: {v!r},  # noqa: E501\n" for k, v in embedded().items()) + "}\n"
    FAKELIB.write_text(head + MARK + body, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
