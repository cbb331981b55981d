"""Every core: `gateway run --workers N` runs N gateway instances under one supervisor.

`supervisor.py` starts and restarts the worker processes; `status.py` is what
the supervisor tells them (each worker's state, for worker 1's /healthz).
"""
