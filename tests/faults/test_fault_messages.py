"""The cause a failed remote copy reports (issue 18 item 4), from what GNU tar really prints on a full
disk: the reason on an earlier line, then a summary line. Found by the full-disk lab scenario
(tests/faults/test_fault_matrix_lab.py), checked here without a lab."""

from __future__ import annotations

from sealkit.engine.distribute import describe_failure
from sealkit.ssh.connection import CommandFailed, Result

#: GNU tar 1.34 on ENOSPC while extracting: one line per file it could not write, then the summary
TAR_ENOSPC = (
    "tar: ./bin/kubelet: Cannot write: No space left on device\n"
    "tar: ./bin/kubeadm: Cannot write: No space left on device\n"
    "tar: Exiting with failure status due to previous errors\n"
)


def _failed(stderr: str, rc: int = 2) -> CommandFailed:
    return CommandFailed("install failed", result=Result("10.0.0.9", "sh -c …", rc, "", stderr))


def test_a_full_disk_is_named_even_when_tar_summarises_last() -> None:
    why, hint = describe_failure(_failed(TAR_ENOSPC))
    assert "no space left on device" in why.lower(), why
    assert hint.startswith("free space under /var/lib/sealkit"), hint


def test_the_last_line_is_kept_when_no_line_names_a_known_cause() -> None:
    why, hint = describe_failure(_failed("tar: something odd\ntar: Exiting with failure status\n"))
    assert why == "exit status 2 (tar: Exiting with failure status)"
    assert hint.startswith("re-run"), hint
