"""Metrics: Prometheus scraping every service and Toxiproxy, queries over it, and the collection of
the series checks judge into the journal (checks themselves never ask Prometheus)."""
