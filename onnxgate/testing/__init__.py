"""Testing helpers for users' own test suites (being written)."""
