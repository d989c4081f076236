"""sealkit: turn SSH-reachable machines into an HA Kubernetes cluster from an offline cluster image."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sealkit")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+source"
