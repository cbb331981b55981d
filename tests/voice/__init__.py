"""The voice line's tests (gateway/voice/, docs/voice.md); shared fixtures in conftest.py."""
