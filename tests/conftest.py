"""Shared pytest setup: the multi-host lab's fixtures (tests/lab) for every test that needs hosts."""

pytest_plugins = ["tests.lab.fixtures", "tests.lab.xdist_groups"]
