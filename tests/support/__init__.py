"""What the test files share: fixtures' machinery, fake peers and helpers (tests/README.md).

Why a package of its own: a test file that imports from another test file
ties the two together (renaming a test breaks a stranger), and pytest may
collect the imported file's tests twice. Test files import from here only;
`tests/test_support_layout.py` checks that.
"""
