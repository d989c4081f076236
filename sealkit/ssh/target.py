"""Who to connect to and with which credentials.

A :class:`Target` is immutable and safe to print or log: its ``repr``/``str`` never show a password
or passphrase (KubeKey and sealos users have had credentials leak into logs through struct dumps).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sealkit.errors import UsageError

_SECRET_FIELDS = ("password", "key_data", "key_passphrase", "sudo_password")


@dataclass(frozen=True)
class Target:
    """One SSH host.

    ``sudo_password`` defaults to ``password`` for a non-root user (the common "same password"
    case). ``port=22`` and ``user="root"`` are the defaults; when a Target keeps a default, a
    matching ``Port``/``User`` in the ssh config wins (like ``ssh`` without ``-p``/``-l``).
    """

    address: str
    port: int = 22
    user: str = "root"
    password: str | None = field(default=None, repr=False)
    key_path: str | None = None
    #: a private key given inline (sealos ``pkData``): its text, never written to disk
    key_data: str | None = field(default=None, repr=False)
    key_passphrase: str | None = field(default=None, repr=False)
    sudo_password: str | None = field(default=None, repr=False)
    label: str = ""

    def __post_init__(self) -> None:
        if not self.address or any(c.isspace() for c in self.address):
            raise UsageError(f"invalid host address {self.address!r}", hint="give an IP or host name")
        if not isinstance(self.port, int) or not 0 < self.port < 65536:
            raise UsageError(f"invalid SSH port {self.port!r} for {self.address}", hint="use 1-65535")
        if not self.user:
            raise UsageError(f"empty SSH user for {self.address}", hint="give a user name (-u)")
        if not self.label:
            default = self.address if self.port == 22 else f"{self.address}:{self.port}"
            object.__setattr__(self, "label", default)
        if self.sudo_password is None and self.password is not None and not self.is_root:
            object.__setattr__(self, "sudo_password", self.password)

    @property
    def is_root(self) -> bool:
        """True when the *configured* user is root; ``User`` in the ssh config can still log in as someone
        else, so the connection decides sudo from its login user (:attr:`Connection.is_root`)."""
        return self.user == "root"

    def __repr__(self) -> str:
        shown = [
            f"address={self.address!r}",
            f"port={self.port}",
            f"user={self.user!r}",
            f"label={self.label!r}",
        ]
        if self.key_path:
            shown.append(f"key_path={self.key_path!r}")
        for name in _SECRET_FIELDS:
            if getattr(self, name) is not None:
                shown.append(f"{name}=***")
        return f"Target({', '.join(shown)})"

    def __str__(self) -> str:
        return self.label
