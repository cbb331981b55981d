"""The demo's story: made-up supporters, committees, gifts and questions for `make demo`.

Why a package of its own: the seed drives the product's own writers (the MO
pipeline's decisions, the billing service, the broadcast materializer, the
public form's intake) so the demo shows what the product writes, and that
wiring touches more layers than any one feature does. It runs only on a
database gateway/devdb.py marked as the demo's (marker.py).
"""
