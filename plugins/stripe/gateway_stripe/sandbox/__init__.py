"""The Stripe simulator: a local stand-in for Stripe's API, mounted at /sandbox/stripe in sandbox mode."""
