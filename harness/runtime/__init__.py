"""Where target systems run. ``local`` (processes on loopback) is the embedded default;
``docker`` runs the same manifests in containers."""
from . import local  # noqa: F401  (registers the runtime)
from .base import Deployment, DeployRequest, runtimes


def _deploy_docker(req: DeployRequest) -> Deployment:
    # Imported on use: a local run never loads the Docker SDK.
    from .docker.deployment import deploy_docker

    return deploy_docker(req)


runtimes.register("docker", _deploy_docker)

__all__ = ["Deployment", "DeployRequest", "runtimes"]
