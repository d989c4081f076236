"""A damaged applied.json names the file instead of crashing (issue 14 item 14)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sealkit.engine.applied import FILENAME, Applied, AppliedHost
from sealkit.errors import EXIT_USAGE, UsageError


@pytest.mark.parametrize(
    "text",
    ["{not json", "[]", '{"hosts": []}', '{"hosts": {"10.0.0.1": 5}}', '{"bogus": 1}', "\xff\xfe"],
)
def test_damaged_applied_json_is_a_usage_error_naming_the_file(tmp_path: Path, text: str):
    (tmp_path / FILENAME).write_bytes(text.encode("latin-1"))
    with pytest.raises(UsageError) as err:
        Applied.load(tmp_path)
    assert str(tmp_path / FILENAME) in err.value.message
    assert err.value.exit_code == EXIT_USAGE
    assert "restore" in (err.value.hint or "")


def test_round_trip_and_missing_file(tmp_path: Path):
    assert Applied.load(tmp_path) == Applied()
    applied = Applied(runtime="k3s", hosts={"10.0.0.1": AppliedHost(roles=["master"], joined=True)})
    applied.save(tmp_path)
    assert Applied.load(tmp_path) == applied
