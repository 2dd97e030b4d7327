"""Stripe PaymentIntents (cards, Alipay, WeChat Pay through the mobile SDKs) as a gateway provider plugin."""
