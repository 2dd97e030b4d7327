"""Mutation testing of the conformance kit: `python -m mutation.run` (README.md)."""
