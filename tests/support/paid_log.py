"""A gateway plugin for tests: appends `<order id>\\n` to $PAID_LOG_PATH for every `gateway_order_paid` call.

Load it with ``GATEWAY_PLUGINS=tests.support.paid_log``. Each call opens the file in append
mode and writes its whole line at once, so lines from several worker processes never
interleave and the file's line count is the number of hook calls across all of them.
"""

from __future__ import annotations

import os

from gateway import hookimpl
from gateway.plugin.snapshots import OrderSnapshot

ENV_VAR = "PAID_LOG_PATH"

GATEWAY_CONTRACT_VERSION = 2  # the provider contract and hooks this plugin was written for


@hookimpl
def gateway_order_paid(order: OrderSnapshot) -> None:
    path = os.environ.get(ENV_VAR)
    if not path:
        raise RuntimeError(f"{ENV_VAR} is not set: tests.support.paid_log has nowhere to write")
    # Unbuffered append: one write(2) of the whole line, positioned at the end by O_APPEND.
    with open(path, "ab", buffering=0) as log_file:
        log_file.write(f"{order.id}\n".encode("ascii"))
        log_file.flush()
