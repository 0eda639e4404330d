"""A team's docker-compose.yml, run by the Docker runtime with Toxiproxy on every declared edge.

The services keep their own configuration: a caller that reaches ``http://api:8000`` keeps doing
so, and lands on Toxiproxy. How, with Docker's own DNS:

    main network       Toxiproxy, Prometheus, every service at a fixed address, with NO alias: a
                       service's bare name resolves nowhere here.
    one per edge a->b  a network of two: the caller ``a``, and Toxiproxy with the alias ``b``.
                       Toxiproxy's listener for the edge binds to its own address on that network,
                       on b's port, and forwards to b's address on the main network.

So each edge is its own proxy (``a->b`` and ``c->b`` can be faulted apart), and a call that is not
a declared edge does not resolve at all, rather than bypass the faults unseen. Everything is
labelled with the run like any Docker run, and removed whatever ends it; named volumes are
created per run (``harness-<run>-<name>``) and removed with it.
"""
from __future__ import annotations

from typing import Any

from ...system import Edge
from . import layout
from .deployment import TOXIPROXY, DockerDeployment
from .resources import address_in, create_network, run_labels


class ComposeDeployment(DockerDeployment):
    """The Docker runtime for a system whose services come from a Compose file."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.edge_networks: dict[str, tuple[Any, str, str]] = {}
        """Edge -> (its network, its subnet, Toxiproxy's address on it)."""

    def _before_toxiproxy_starts(self) -> None:
        # An upstream the manifest gives an 'env' is reached like any manifest edge (Toxiproxy's address
        # in that variable); the others by the callee's name, on a network of their own.
        for i, edge in enumerate(e for e in self.system.edges.values() if e.env is None):
            network, subnet, _ = create_network(self.client, f"harness-{self.run_id}-e{i}", run_labels(self.run_id))
            toxiproxy_address = address_in(subnet, 2)
            network.connect(self.containers[TOXIPROXY].id, ipv4_address=toxiproxy_address, aliases=[edge.target])
            self.edge_networks[edge.name] = (network, subnet, toxiproxy_address)
            self.req.journal.write("edge_network", edge=edge.name, network=network.name, subnet=subnet,
                                   alias=edge.target, toxiproxy=toxiproxy_address)

    def _edge_listen_host(self, edge: str) -> str:
        # A Compose edge listens only on its own network: the caller's name lookup of the callee lands here.
        return self.edge_networks[edge][2] if edge in self.edge_networks else layout.LISTEN_HOST

    def _edge_listen_port(self, edge: str, target: str, ports: dict[str, int]) -> int:
        # The callee's own port: the caller's configuration (``http://api:8000``) names it.
        return layout.service_port(self.system, target) if edge in self.edge_networks else ports[edge]

    def _create_service(self, name: str, image: str, ports: dict[str, int]) -> None:
        svc = self.system.services[name]
        details = self.system.compose_services[name]
        spec = layout.service_container(self.system, name, proxy_host=self.addresses[TOXIPROXY], ports=ports,
                                        defect=self.req.defect)
        env = {k: v for k, v in spec.env.items() if k not in ("HOST", "PYTHONUNBUFFERED")}  # Compose sets neither
        options: dict[str, Any] = {"command": spec.argv or None, "environment": env, "volumes": self._volumes(name)}
        for key in ("entrypoint", "healthcheck", "user", "working_dir", "init"):
            value = getattr(details, key)
            if value is not None:
                options[key] = value
        if details.ignored:
            self.req.journal.write("compose_ignored", service=name, keys=details.ignored)
        assert svc.image is not None, "a Compose service always names its image"
        self.create_container(name, svc.image, port=spec.port, aliases=[], **options)
        for edge in self._edges_from(name):
            if edge.name not in self.edge_networks:
                continue
            network, subnet, _ = self.edge_networks[edge.name]
            network.connect(self.containers[name].id, ipv4_address=address_in(subnet, 3))

    def _edges_from(self, name: str) -> list[Edge]:
        return [edge for edge in self.system.edges.values() if edge.source == name]

    def _volumes(self, name: str) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {}
        for vol in self.system.compose_services[name].volumes:
            source = vol["source"]
            if vol["type"] == "volume":
                # Named (or anonymous) volumes belong to the run: created labelled, removed with it.
                volume_name = f"harness-{self.run_id}-{source or name + '-' + str(len(out))}"
                self.client.volumes.create(name=volume_name, labels=run_labels(self.run_id))
                source = volume_name
            out[source] = {"bind": vol["target"], "mode": "ro" if vol["read_only"] else "rw"}
        return out
