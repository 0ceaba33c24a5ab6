"""Helpers shared by the test suite: daemon fixtures, an engine driver and rule worlds."""
