"""Donations: carrier billing and Stripe card payments, combining engine decisions with storage.

Pure parts: `decisions` (what to do with a card request, a YES, Stripe's
answers, a webhook, a receipt: the money rules, over `decision_types`),
`policy` (legal limits, windows, donor-details thresholds), `ledger`
(append-only events -> one donation state, the transition table the
database enforces) and `aggregators` (billed-MT parameters and receipt
meaning per carrier aggregator). `service` and `webhook_ledger` run the
decisions (reads, writes, Stripe calls). This package sits below smpp/, web/
and pipeline/ (tests/test_layers.py): it takes plain values from them and
never imports them.
"""
