"""The generated hook reference keeps every line of a ``When:``/``Returns:`` text inside its bullet (the
new ``sealkit_host_expectations`` spec has three-line labels; before, the third line fell out)."""

from __future__ import annotations

from sealkit.testing import hookdoc


def test_a_label_running_over_three_lines_stays_one_bullet():
    doc = "Summary.\n\nWhen: one\ntwo\nthree\nScope: per host.\n\nAfter."
    assert hookdoc._markdown(doc).splitlines() == [
        "Summary.",
        "",
        "- **When:** one",
        "  two",
        "  three",
        "- **Scope:** per host.",
        "",
        "After.",
    ]


def test_the_expectations_hook_is_documented():
    text = hookdoc.render()
    assert "## sealkit_host_expectations" in text
    assert "\n  re-run compares with what sealkit wrote" in text
