"""Test support for sealkit and for plugin authors.

* :mod:`sealkit.testing.fixtures` — pytest fixtures (auto-loaded through the ``pytest11`` entry point):
  ``sealkit_home``, ``recording_host``, ``plugin_context``;
* :mod:`sealkit.testing.recording` — a recording stand-in for a host connection, so a plugin's hooks can be
  checked as "inputs → exact commands and files" without any machine;
* :mod:`sealkit.testing.contract` — ``RuntimeContract``, the test suite every runtime plugin runs
  (subclass it in your plugin's tests and set ``runtime_name``).
"""
