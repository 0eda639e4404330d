"""The Docker runtime (``--runtime docker``) and the demo stack generated from the same manifests.

    deployment   DockerDeployment: a run's network, Toxiproxy, a container per service, Prometheus
    layout       how a service becomes a container: images, paths, its placement for launch_spec (pure)
    images       which images a run uses, and what to do when one is missing
    health       readiness through a published port (Docker's port proxy answers before the service)
    logs         a container's output copied into logs/<service>.log as it is printed
    prometheus   Prometheus in a container beside the run
    resources    the daemon: connect, labels, the run's network, removal of what runs left behind
    compose      docker-compose.yml generated from the manifests (`make compose`)

Importing this package does not import the Docker SDK: ``deployment`` and ``resources`` import it
when a Docker run starts, so a local run never needs it installed.
"""
