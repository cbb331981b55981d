"""Contact import from a CSV or XLSX file, with consent provenance (docs/import.md).

reading.py reads a file into rows; mapping.py is the column mapping and its
guess; rows.py classifies one row (the rule the dry run and the import
share); service.py is the steps a person takes; runner.py the background job.
"""
