from locust import HttpUser, constant, task


class Visitor(HttpUser):
    wait_time = constant(0.05)

    @task
    def home(self) -> None:
        self.client.get("/", name="GET /")
