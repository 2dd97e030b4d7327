"""Example Pay: a minimal, complete gateway provider plugin (see README.md beside this package)."""
