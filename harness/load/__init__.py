"""Load generation: Locust in a subprocess, its request records read back as JSON lines.

Importing this package never imports Locust (nor gevent): ``locust_process`` runs only as
``python -m harness.load.locust_process`` in a child process.
"""
from .process import LoadProcess, Record

__all__ = ["LoadProcess", "Record"]
