"""Finance: donation reports, the itemization export, and reconciliation of the ledger
against carrier settlements and Stripe balance transactions, in integer cents.

What the web frame calls (each takes a pool or a connection):
`reports.report_csv` / `reports.donation_report`, `itemization.itemization`,
`importer.import_settlement(db, name, data, mapping) -> ImportResult`,
`stripe_balance.import_stripe_api`, `summary.reconciliation(db) -> Summary`
(`.as_dict()`, `.table()`, `.exceptions_csv()`); mappings come from
`formats.load_mappings(settings.finance_mappings)`. Pure parts: `money`,
`parse`, `formats`, `matching`. All SQL is in store/finance.py.
"""
