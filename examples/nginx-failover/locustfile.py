"""Clients of the nginx gateway: a steady stream of GETs."""
from locust import FastHttpUser, constant, task


class Client(FastHttpUser):
    wait_time = constant(0.02)

    @task
    def item(self) -> None:
        self.client.get("/items/1", name="GET /items/[id]")
