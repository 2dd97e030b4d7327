"""Example Pay's simulator: a working double of its API (see app.py), for tests and sandbox mode."""

from gateway_example_provider.sandbox.app import ExampleSimulator

__all__ = ["ExampleSimulator"]
