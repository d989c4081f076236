"""Built-in: put rendered certificate files on a host, content-addressed (unchanged files are not sent)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sealkit.hookspecs import hookimpl

if TYPE_CHECKING:
    from sealkit.context import ClusterContext, HostRef
    from sealkit.pki.model import FileSpec


class CertFilesPlugin:
    """Default ``sealkit_install_certs``: one content-addressed put per file."""

    @hookimpl(trylast=True)
    def sealkit_install_certs(self, ctx: ClusterContext, host: HostRef, files: list[FileSpec]) -> bool:
        for f in files:
            host.conn.put(f.content, f.path, mode=f.mode)
        return True
