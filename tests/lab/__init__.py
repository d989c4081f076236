"""sealkit's multi-host test lab: real sshd (or systemd) hosts in namespaces on one machine.

    from tests.lab import Lab
    with Lab.up(5, hidden=2, name="demo") as lab:
        lab.exec_on(lab.hosts[0], ["hostname"])

CLI: ``python -m tests.lab up|status|down``; pytest fixtures in ``tests.lab.fixtures``.
"""

from tests.lab.core import Lab, names, teardown, teardown_all
from tests.lab.env import check_environment
from tests.lab.model import LabError, LabHost, lab_root

__all__ = [
    "Lab",
    "LabError",
    "LabHost",
    "check_environment",
    "lab_root",
    "names",
    "teardown",
    "teardown_all",
]
