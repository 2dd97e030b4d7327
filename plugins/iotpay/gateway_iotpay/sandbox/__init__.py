"""The IOTPay simulator: a local stand-in for IOTPay's API, mounted at /sandbox/iotpay in sandbox mode."""
