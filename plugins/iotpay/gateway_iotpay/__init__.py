"""IOTPay v1 (WeChat Pay, Alipay, UnionPay app payments) as a gateway provider plugin."""
