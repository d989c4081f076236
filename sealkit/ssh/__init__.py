"""sealkit's SSH layer: one persistent, host-key-checked connection per host.

Public API: :class:`Target`, :class:`HostKeyPolicy`, :class:`Connection`, :class:`Fleet`,
:class:`Result`, :class:`CommandFailed`, :class:`UnknownHostKey`, :func:`load_ssh_config`.
"""

from sealkit.ssh.config import Endpoint, load_ssh_config, resolve_route
from sealkit.ssh.connection import CommandFailed, Connection, JumpPool, Result
from sealkit.ssh.fleet import Fleet
from sealkit.ssh.hostkeys import HostKeyPolicy, UnknownHostKey, fingerprint, known_hosts_name
from sealkit.ssh.quoting import quote, sudo_wrap, with_env
from sealkit.ssh.target import Target

__all__ = [
    "CommandFailed",
    "Connection",
    "Endpoint",
    "Fleet",
    "HostKeyPolicy",
    "JumpPool",
    "Result",
    "Target",
    "UnknownHostKey",
    "fingerprint",
    "known_hosts_name",
    "load_ssh_config",
    "quote",
    "resolve_route",
    "sudo_wrap",
    "with_env",
]
