"""Telemetry: the structured logs and Prometheus metrics every layer reports to operators through."""
