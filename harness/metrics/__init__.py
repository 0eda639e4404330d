"""Metrics: Prometheus scraping every service and Toxiproxy, and queries over it."""
