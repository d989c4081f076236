"""``sealkit`` (the CLI, unchanged) with bench/_nodelay.py's TCP_NODELAY patch: the proposed fix."""

from __future__ import annotations

import _nodelay

_nodelay.enable()

from sealkit.cli.main import main  # noqa: E402 - after the patch, as the console script would

main()
