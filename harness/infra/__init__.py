"""Infrastructure a manifest can declare as an ordinary service (a database, ...).

Each is a launcher run as ``{python} -m harness.infra.<name>``: to the runtime it is just a
process with a port and a health check, so the engine needs no special case for it.
"""
