from locust import HttpUser, task


class Reader(HttpUser):
    @task
    def notes(self):
        self.client.get("/notes")
