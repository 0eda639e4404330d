"""Traffic on the edges: sampled from Toxiproxy into the journal, judged by ``amplification``.

- ``sampler``: reads Toxiproxy's per-proxy byte counters every second (a thread), the
  runner drains them into the journal as ``edge_counters`` records; helpers to read a
  counter at any moment.
"""
