"""An app's env: scoped to that app, generated secrets kept, ``$(VAR)``/``${VAR}`` substitution.

Order, lowest first: the image's ``ENV`` defaults, values generated at install (``generate:``), then
``-e`` given for this run. Nothing leaks: an app's env is built from its own image and the run's
``-e`` only (never another app's image, never written into the cluster's Clusterfile env), which is
what sealos got wrong (sealos #2046, #3700).

Generated values live in the cluster state dir (0600, like the PKI keys), so a re-run reuses them
and "same env" stays the same; the apps record only stores the env *keys* and an HMAC fingerprint.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Mapping
from pathlib import Path

from sealkit.apps.spec import ALPHABETS, Generator
from sealkit.errors import UsageError
from sealkit.state import SECRET_MODE, atomic_write

_SUBST = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def parse_pairs(pairs: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``-e K=V`` flags → a dict; a malformed one is a usage error naming it."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not _ENV_NAME.match(key):
            raise UsageError(f"-e {pair!r} is not KEY=VALUE", hint="e.g. -e REDIS_PASSWORD=s3cret")
        out[key] = value
    return out


def generate(gen: Generator) -> str:
    alphabet = ALPHABETS[gen.alphabet]
    return "".join(secrets.choice(alphabet) for _ in range(gen.length))


class SecretStore:
    """Generated values of each app, one 0600 JSON file per app under ``<state>/apps/``."""

    def __init__(self, state_dir: Path) -> None:
        self.dir = Path(state_dir) / "apps"

    def _path(self, app: str) -> Path:
        return self.dir / f"{app}.secrets.json"

    def load(self, app: str) -> dict[str, str]:
        path = self._path(app)
        if not path.is_file():
            return {}
        data = json.loads(path.read_text())
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def save(self, app: str, values: Mapping[str, str]) -> None:
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        atomic_write(self._path(app), json.dumps(dict(sorted(values.items()))), mode=SECRET_MODE)

    def remove(self, app: str) -> None:
        self._path(app).unlink(missing_ok=True)

    def fingerprint(self, env: Mapping[str, str]) -> str:
        """HMAC of the env under a per-cluster key: compares envs without storing a guessable hash."""
        key_path = self.dir / ".env-key"
        if not key_path.is_file():
            self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            atomic_write(key_path, secrets.token_hex(32), mode=SECRET_MODE)
        key = key_path.read_text().strip().encode()
        payload = json.dumps(dict(sorted(env.items())), separators=(",", ":")).encode()
        return hmac.new(key, payload, hashlib.sha256).hexdigest()


def app_env(
    name: str,
    defaults: Mapping[str, str],
    generators: Mapping[str, Generator],
    given: Mapping[str, str],
    store: SecretStore,
) -> tuple[dict[str, str], dict[str, str]]:
    """(env, generated) for one app; new generated values are returned, not yet saved."""
    kept = store.load(name)
    generated: dict[str, str] = {}
    for var, gen in generators.items():
        if var in given:
            continue
        generated[var] = kept.get(var) or generate(gen)
    return {**defaults, **generated, **given}, generated


def substitute(text: str, env: Mapping[str, str], *, as_shell: bool = False) -> str:
    """Replace ``$(VAR)`` and ``${VAR}`` of known keys (sealos semantics; unknown ones stay as written).

    ``as_shell=True`` rewrites them to ``${VAR}`` instead of the value, for a command line whose env is
    exported from stdin: the value then never appears in the command (and so never in ``ps``).
    """

    def repl(m: re.Match[str]) -> str:
        var = m.group(1) or m.group(2)
        if var not in env:
            return m.group(0)
        return f"${{{var}}}" if as_shell else env[var]

    return _SUBST.sub(repl, text)


def referenced(text: str) -> set[str]:
    """Variable names a text refers to with ``$(VAR)`` or ``${VAR}``."""
    return {m.group(1) or m.group(2) for m in _SUBST.finditer(text)}
