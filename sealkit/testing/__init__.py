"""Test support for sealkit and for plugin authors (guide: docs/plugins.md, section 5).

* :mod:`sealkit.testing.fixtures` — pytest fixtures (auto-loaded through the ``pytest11`` entry point):
  ``sealkit_home``, ``recording_host``, ``plugin_context``;
* :mod:`sealkit.testing.recording` — a recording stand-in for a host connection, so a plugin's hooks can be
  checked as "inputs → exact commands and files" without any machine;
* :mod:`sealkit.testing.contract` — ``RuntimeContract``, the test suite every runtime plugin runs
  (subclass it in your plugin's tests, set ``runtime_name`` and script the host with ``script_host``);
* :mod:`sealkit.testing.lifecycle` — ``PlanHarness``: the engine's plans over recording hosts;
* :mod:`sealkit.testing.diagnose` — plain-language diagnoses of registration mistakes;
* :mod:`sealkit.testing.hookdoc` — generates ``docs/hooks.md`` from the hook specs.
"""

import pytest

# plain ``assert`` in these modules shows the compared values in a plugin author's failures; registered
# here because the pytest11 entry point imports this package before any of them
pytest.register_assert_rewrite(
    "sealkit.testing.contract",
    "sealkit.testing.diagnose",
    "sealkit.testing.fixtures",
    "sealkit.testing.lifecycle",
    "sealkit.testing.recording",
)
