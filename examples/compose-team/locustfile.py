from locust import HttpUser, constant, task


class Visitor(HttpUser):
    wait_time = constant(0.05)

    @task
    def home(self) -> None:
        # The greeting comes from the API's env_file: an answer without it is a failure.
        with self.client.get("/", name="GET /", catch_response=True) as resp:
            if resp.status_code == 200 and "hello from the api" not in resp.text:
                resp.failure("the API's greeting (env_file) is missing")
