"""Outgoing webhooks (docs/webhooks.md): signing, the receiver URL rule, delivery.

Events are emitted by the transactions that make the changes
(gateway/store/webhook_events.py); this package turns them into signed POSTs
to the subscribed receivers, retries, and disables a receiver that keeps failing.
"""
