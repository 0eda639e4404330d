"""Invariants audited from effects: what a manifest declares, how it is read after quiescence.

- ``spec``: the manifest's ``audits:``, ``invariants:`` and ``quiescence:`` models.
- ``expr``: the expression language invariants are written in.
- ``read``: reading audits (SQL, HTTP) from a running system, directly, never through an edge.
- ``quiescence``: waiting until the audits stop changing, then recording them.
- ``collect``: the runner's step (which invariants a run needs; the journal records).

The ``invariant`` check (``harness.checks.invariant``) judges the recorded audits.
"""
