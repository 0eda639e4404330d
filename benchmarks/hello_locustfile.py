"""Benchmark load: every user sends GET / back to back, as fast as the target answers."""
from locust import FastHttpUser, constant, task


class HelloUser(FastHttpUser):
    wait_time = constant(0)

    @task
    def hello(self):
        self.client.get("/", name="/")
