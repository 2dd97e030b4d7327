"""The domain: orders, payments, refunds, notifications, reconciliation and webhooks, with no Flask and no SQL text."""
