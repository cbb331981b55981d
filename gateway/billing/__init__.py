"""Donations: carrier billing and Stripe card payments, combining engine decisions with storage.

Pure parts: `policy` (legal limits, windows, donor-details thresholds),
`ledger` (append-only events -> one donation state) and `aggregators`
(billed-MT parameters and receipt meaning per carrier aggregator). This
package sits below smpp/ and web/ (tests/test_layers.py): it takes plain values
from them and never imports them.
"""
