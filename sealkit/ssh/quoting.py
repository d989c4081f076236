"""The one place remote command lines are built.

Every remote command goes through :func:`quote` (``shlex.quote``) exactly once per shell level, so
there is no quote-swapping around ``sudo`` (a source of bugs in sealos). Secrets never appear here:
the sudo password travels on stdin, never in argv or the environment, so ``ps`` on the host cannot
show it.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping

from sealkit.errors import UsageError

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def quote(word: str) -> str:
    """Quote one word for a POSIX shell (the only quoting function sealkit uses)."""
    return shlex.quote(word)


def join(argv: list[str]) -> str:
    """Build a command line from an argv list, quoting every word."""
    return " ".join(quote(a) for a in argv)


def _assignments(env: Mapping[str, str]) -> list[str]:
    parts = []
    for name, value in env.items():
        if not _ENV_NAME.match(name):
            raise UsageError(
                f"invalid environment variable name {name!r}",
                hint="use letters, digits and '_' and do not start with a digit",
            )
        parts.append(f"{name}={quote(str(value))}")
    return parts


def with_env(cmd: str, env: Mapping[str, str] | None) -> str:
    """Prefix ``cmd`` with ``export``; values show in ``ps``, so never pass secrets here."""
    if not env:
        return cmd
    return f"export {' '.join(_assignments(env))}; {cmd}"


def env_on_stdin(cmd: str, env: Mapping[str, str]) -> tuple[str, bytes]:
    """``cmd`` that first sources ``env`` from stdin, and the bytes to send there.

    The values never reach a command line, so ``ps`` on the host cannot show them (``-e`` may carry
    secrets); ``cmd`` itself then reads an exhausted stdin.
    """
    script = "".join(f"{a}\n" for a in _assignments(env)).encode()
    return f"set -a; . /dev/stdin; set +a; {cmd}", script


def sudo_wrap(cmd: str, *, password: bool) -> str:
    """Run ``cmd`` as root through ``sh -c``.

    With ``password=True`` sudo reads the password from stdin (``-S``) with an empty prompt (``-p
    ''``) and ignores any cached credential (``-k``) so that it *always* consumes exactly the first
    stdin line, which keeps the stream that follows intact for the command. Without a password,
    ``-n`` makes sudo fail instead of hanging on a prompt."""
    flags = "-k -S -p ''" if password else "-n"
    return f"sudo {flags} -- sh -c {quote(cmd)}"
