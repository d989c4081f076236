"""An app's env: precedence, generated values kept, substitution, fingerprint."""

from __future__ import annotations

import pytest

from sealkit.apps.envs import SecretStore, app_env, parse_pairs, referenced, substitute
from sealkit.apps.spec import Generator
from sealkit.errors import UsageError


def test_precedence_defaults_generated_given(tmp_path):
    store = SecretStore(tmp_path)
    env, gen = app_env("a", {"PW": "image-default", "X": "1"}, {"PW": Generator(20)}, {"X": "2"}, store)
    assert env["X"] == "2" and env["PW"] == gen["PW"] and len(gen["PW"]) == 20
    assert env["PW"] != "image-default", "a generated password never falls back to the image's constant"
    env2, gen2 = app_env("a", {}, {"PW": Generator(20)}, {"PW": "mine"}, store)
    assert env2["PW"] == "mine" and gen2 == {}


def test_generated_values_are_kept_per_app(tmp_path):
    store = SecretStore(tmp_path)
    _, gen = app_env("a", {}, {"PW": Generator()}, {}, store)
    store.save("a", gen)
    again, _ = app_env("a", {}, {"PW": Generator()}, {}, store)
    other, _ = app_env("b", {}, {"PW": Generator()}, {}, store)
    assert again["PW"] == gen["PW"] and other["PW"] != gen["PW"]
    store.remove("a")
    assert store.load("a") == {}


def test_hex_alphabet(tmp_path):
    _, gen = app_env("a", {}, {"T": Generator(64, "hex")}, {}, SecretStore(tmp_path))
    assert set(gen["T"]) <= set("0123456789abcdef") and len(gen["T"]) == 64


def test_substitution_sealos_forms():
    env = {"A": "1", "B": "two"}
    assert substitute("x=$(A) y=${B} z=$(C) w=$A $(date)", env) == "x=1 y=two z=$(C) w=$A $(date)"
    assert substitute("--set p=$(A)", env, as_shell=True) == "--set p=${A}"
    assert referenced("$(A) ${B} $C") == {"A", "B"}


def test_parse_pairs():
    assert parse_pairs(["A=1", "B=x=y", "C="]) == {"A": "1", "B": "x=y", "C": ""}
    with pytest.raises(UsageError, match="not KEY=VALUE"):
        parse_pairs(["1A=x"])
    with pytest.raises(UsageError):
        parse_pairs(["novalue"])


def test_fingerprint_is_keyed_and_stable(tmp_path):
    store = SecretStore(tmp_path)
    a = store.fingerprint({"PW": "secret", "X": "1"})
    assert a == store.fingerprint({"X": "1", "PW": "secret"})
    assert a != store.fingerprint({"PW": "secret2", "X": "1"})
    other = SecretStore(tmp_path / "other")
    assert other.fingerprint({"PW": "secret", "X": "1"}) != a, "no cross-cluster guessable hash"
    assert (tmp_path / "apps" / ".env-key").stat().st_mode & 0o777 == 0o600
