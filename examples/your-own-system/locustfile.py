import random

from locust import FastHttpUser, constant, task


class Shopper(FastHttpUser):
    wait_time = constant(0.05)

    @task
    def item(self) -> None:
        self.client.get(f"/item/{random.randint(1, 100)}", name="GET /item/[id]")
