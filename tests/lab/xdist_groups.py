"""Run the suite on several cores (``pytest -n N --dist loadgroup``, the README's test command) with every
lab test on one worker, one after another, as in a serial run; the other workers take every other file.

Lab tests bring up hosts that share the machine's cores and wait on real daemons. Two labs at once on this
2-core machine made timing tests fail (the HA failover test's detection window, a restored link's first
handshake), so the lab stays serial: the suite's time is the lab's time.

xdist's own ``loadgroup`` reads ``xdist_group`` marks by rewriting node ids, which pytest ≥ 9.2 no longer
allows (its node ids are structured); so the groups travel another way: each worker writes the group of
every test it collected into a directory the controller made (``$SEALKIT_XDIST_GROUPS``) before it reports
its collection, and the controller's scheduler reads them when it splits the work. Without xdist this
module does nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

#: fixtures that bring up lab hosts (tests/lab/fixtures.py): their tests join the lab group
LAB_FIXTURES = frozenset({"lab", "fresh_lab", "fresh_hosts", "testinfra_host"})
LAB_GROUP = "lab"
GROUPS_ENV = "SEALKIT_XDIST_GROUPS"


def uses_lab(item: pytest.Item) -> bool:
    return item.get_closest_marker("lab") is not None or bool(
        LAB_FIXTURES & set(getattr(item, "fixturenames", ()))
    )


def group_of(item: pytest.Item) -> str:
    return LAB_GROUP if uses_lab(item) else item.nodeid.split("::", 1)[0]


def _order(item: pytest.Item) -> int:
    """The lab group first (the longest: it must not start last), then every other file."""
    return 0 if uses_lab(item) else 1


def _grouping(config: pytest.Config) -> bool:
    """True in the controller of ``-n N --dist loadgroup``."""
    return not hasattr(config, "workerinput") and getattr(config.option, "dist", "no") == "loadgroup"


def pytest_configure(config: pytest.Config) -> None:
    # the workers start after this (xdist's DSession spawns them at session start) and inherit the env
    if _grouping(config):
        os.environ[GROUPS_ENV] = tempfile.mkdtemp(prefix="sealkit-xdist-")


def pytest_unconfigure(config: pytest.Config) -> None:
    if _grouping(config) and GROUPS_ENV in os.environ:
        shutil.rmtree(os.environ.pop(GROUPS_ENV), ignore_errors=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    worker: dict[str, Any] | None = getattr(config, "workerinput", None)
    where = os.environ.get(GROUPS_ENV)
    if worker is None or not where:
        return
    items.sort(key=_order)  # stable: collection order within each part
    out = Path(where) / f"{worker['workerid']}.json"
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps({item.nodeid: group_of(item) for item in items}))
    tmp.replace(out)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if not _grouping(config):
        return None
    from xdist.scheduler import LoadScopeScheduling

    where = Path(os.environ[GROUPS_ENV])

    class GroupScheduling(LoadScopeScheduling):  # type: ignore[misc]
        """Scopes are the groups the workers wrote (a test nobody wrote down: its file)."""

        groups: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self.groups is None:  # every worker wrote its file before reporting its collection
                self.groups = {}
                for one in sorted(where.glob("*.json")):
                    self.groups.update(json.loads(one.read_text()))
            return self.groups.get(nodeid) or nodeid.split("::", 1)[0]

    # scopes in collection order (the workers put the lab group first), not by their number of tests:
    # a file of a hundred quick tests must not start before an hour of lab
    config.option.loadscopereorder = False
    return GroupScheduling(config, log)
