"""The README's test command runs on several workers: every lab test must land on one worker (labs in
parallel slow each other into timeouts), the rest spread file by file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytest.importorskip("xdist")


def _write(path: Path, text: str) -> None:
    path.write_text(textwrap.dedent(text))


def test_lab_tests_share_one_worker_and_files_stay_whole(tmp_path: Path) -> None:
    _write(tmp_path / "conftest.py", 'pytest_plugins = ["tests.lab.xdist_groups"]\n')
    _write(tmp_path / "pytest.ini", "[pytest]\nmarkers =\n    lab: lab\n")
    record = textwrap.dedent("""
        import json, os, pytest
        def log(name):
            with open(os.environ["WHERE"], "a") as f:
                f.write(json.dumps([name, os.environ.get("PYTEST_XDIST_WORKER")]) + "\\n")
    """)
    _write(
        tmp_path / "test_labs.py",
        record
        + textwrap.dedent("""
        pytestmark = pytest.mark.lab
        @pytest.mark.parametrize("n", range(6))
        def test_lab(n):
            log(f"lab{n}")
    """),
    )
    _write(
        tmp_path / "test_fresh.py",
        record
        + textwrap.dedent("""
        @pytest.fixture
        def fresh_lab():
            return None
        @pytest.mark.parametrize("n", range(3))
        def test_uses_fixture(fresh_lab, n):
            log(f"fresh{n}")
    """),
    )
    for name in ("one", "two", "three"):
        _write(
            tmp_path / f"test_{name}.py",
            record
            + textwrap.dedent(f'''
            @pytest.mark.parametrize("n", range(4))
            def test_plain(n):
                log("{name}")
        '''),
        )
    where = tmp_path / "ran.jsonl"
    before = set(Path(tempfile.gettempdir()).glob("sealkit-xdist-*"))
    env = {**os.environ, "WHERE": str(where), "PYTHONPATH": str(REPO)}
    env.pop("SEALKIT_XDIST_GROUPS", None)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "3", "--dist", "loadgroup"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    ran = [json.loads(line) for line in where.read_text().splitlines()]
    assert len(ran) == 6 + 3 + 12
    workers: dict[str, set[str]] = {}
    for name, worker in ran:
        key = "lab" if name.startswith(("lab", "fresh")) else name
        workers.setdefault(key, set()).add(worker)
    assert all(len(w) == 1 for w in workers.values()), workers  # the lab group and each file: one worker
    assert len(set().union(*workers.values())) > 1, workers  # and the work did spread
    assert set(Path(tempfile.gettempdir()).glob("sealkit-xdist-*")) <= before  # the groups dir is gone


def test_without_xdist_nothing_is_grouped_or_reordered(tmp_path: Path) -> None:
    _write(tmp_path / "conftest.py", 'pytest_plugins = ["tests.lab.xdist_groups"]\n')
    _write(tmp_path / "pytest.ini", "[pytest]\nmarkers =\n    lab: lab\n")
    _write(
        tmp_path / "test_order.py",
        """
        import pytest
        def test_a():
            pass
        @pytest.mark.lab
        def test_b():
            pass
        """,
    )
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", "-p", "no:xdist"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.index("test_a") < run.stdout.index("test_b")


def test_the_lab_group_starts_first_and_stays_on_one_worker(tmp_path: Path) -> None:
    _write(tmp_path / "conftest.py", 'pytest_plugins = ["tests.lab.xdist_groups"]\n')
    _write(tmp_path / "pytest.ini", "[pytest]\nmarkers =\n    lab: lab\n")
    log = textwrap.dedent("""
        import json, os, time, pytest
        def log(name):
            with open(os.environ["WHERE"], "a") as f:
                f.write(json.dumps([name, os.environ.get("PYTEST_XDIST_WORKER"), time.monotonic()]) + "\\n")
    """)
    # the unit file has more tests: without our order xdist would start it first
    files = (("tests/e2e", "e2e", 10), ("tests/lab_x", "infra", 10), ("tests/unit", "unit", 60))
    for where, name, count in files:
        (tmp_path / where).mkdir(parents=True)
        mark = "pytestmark = pytest.mark.lab\n" if name != "unit" else ""
        body = f'@pytest.mark.parametrize("n", range({count}))\ndef test_{name}(n):\n    log("{name}")\n'
        _write(tmp_path / where / f"test_{name}.py", log + mark + body)

    def run(workers: str) -> list[list]:
        where = tmp_path / f"ran-{workers}.jsonl"
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "-n",
                workers,
                "--dist",
                "loadgroup",
            ],
            cwd=tmp_path,
            env={**os.environ, "WHERE": str(where), "PYTHONPATH": str(REPO)},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return [json.loads(line) for line in where.read_text().splitlines()]

    ran = run("2")
    assert len({w for n, w, _ in ran if n in ("e2e", "infra")}) == 1  # one lab at a time, on one worker
    ran = run("1")  # one worker: the order of the work is all there is to see
    last_lab = max(t for n, _, t in ran if n in ("e2e", "infra"))
    assert last_lab < min(t for n, _, t in ran if n == "unit")  # the lab first, although the file is bigger
