"""Broadcasts: who receives a campaign update (segments), when (quiet hours), and what (templates).

The pure parts (`quiet_hours`, `policy`, `segments`, `templates`) take time
and data in and decide; `service` combines them with `gateway.store`.
"""
