"""The plugin contract, the one front door for providers: what a plugin may import from the core.

``from gateway.plugin import Provider, ProviderInfo, Settings, hookimpl``: every name in `__all__` is
public and follows the deprecation policy of docs/plugins/contract.md; the modules of this package
are its implementation, and a plugin does not import them by path. Two more public packages serve
plugin authors at development time: `gateway.sandbox` (a simulator's parts) and `gateway.testing`
(the conformance kit).
"""

from __future__ import annotations

from gateway.plugin.clock import Clock, FixedClock
from gateway.plugin.fields import StrictInt, UtcDateTime
from gateway.plugin.hookspecs import hookimpl
from gateway.plugin.http import DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT, ProviderHttp, Timeouts, pooled_session
from gateway.plugin.money import (
    InvalidAmount,
    exponent,
    format_major_units,
    iso_currencies,
    parse_major_units,
)
from gateway.plugin.provider import (
    CONTRACT_VERSION,
    DEPRECATED_CONTRACT_VERSIONS,
    MULTIPLE_REFUNDS,
    PARTIAL_REFUND,
    QUERY,
    QUERY_REFUND,
    REFUND,
    SUPPORTED_CONTRACT_VERSIONS,
    Acknowledgement,
    ChannelInfo,
    CreatedOrder,
    InboundRequest,
    InvalidOrder,
    NextAction,
    NextActionType,
    NoAnswer,
    NotFound,
    Notification,
    NotificationRejected,
    NotifyPolicy,
    NotSupported,
    Operation,
    OrderDraft,
    OrderRef,
    OrderRequest,
    OutcomeUnknown,
    Provider,
    ProviderError,
    ProviderInfo,
    ProviderMisconfigured,
    ProviderTimeout,
    ProviderUnreachable,
    RefundFailed,
    RefundRef,
    RefundRequest,
    RefundResult,
    Refused,
    Verdict,
)
from gateway.plugin.settings import ConfigError, Settings, is_loopback
from gateway.plugin.snapshots import OrderSnapshot
from gateway.plugin.validation import describe_messages, flatten_messages, message_texts

__all__ = [
    "CONTRACT_VERSION",
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_READ_TIMEOUT",
    "DEPRECATED_CONTRACT_VERSIONS",
    "MULTIPLE_REFUNDS",
    "PARTIAL_REFUND",
    "QUERY",
    "QUERY_REFUND",
    "REFUND",
    "SUPPORTED_CONTRACT_VERSIONS",
    "Acknowledgement",
    "ChannelInfo",
    "Clock",
    "ConfigError",
    "CreatedOrder",
    "FixedClock",
    "InboundRequest",
    "InvalidAmount",
    "InvalidOrder",
    "NextAction",
    "NextActionType",
    "NoAnswer",
    "NotFound",
    "NotSupported",
    "Notification",
    "NotificationRejected",
    "NotifyPolicy",
    "Operation",
    "OrderDraft",
    "OrderRef",
    "OrderRequest",
    "OrderSnapshot",
    "OutcomeUnknown",
    "Provider",
    "ProviderError",
    "ProviderHttp",
    "ProviderInfo",
    "ProviderMisconfigured",
    "ProviderTimeout",
    "ProviderUnreachable",
    "RefundFailed",
    "RefundRef",
    "RefundRequest",
    "RefundResult",
    "Refused",
    "Settings",
    "StrictInt",
    "Timeouts",
    "UtcDateTime",
    "Verdict",
    "describe_messages",
    "exponent",
    "flatten_messages",
    "format_major_units",
    "hookimpl",
    "is_loopback",
    "iso_currencies",
    "message_texts",
    "parse_major_units",
    "pooled_session",
]
