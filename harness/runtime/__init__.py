"""Where target systems run. ``local`` (processes on loopback) is the embedded default."""
from . import local  # noqa: F401  (registers the runtime)
from .base import Deployment, DeployRequest, runtimes

__all__ = ["Deployment", "DeployRequest", "runtimes"]
