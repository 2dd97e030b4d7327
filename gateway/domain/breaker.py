"""A circuit breaker per provider account, per process: no orders to an account that keeps failing.

After `failures` consecutive failures of the account (GATEWAY_BREAKER_FAILURES, 5; 0: never) an
account is skipped for `cooldown` seconds (GATEWAY_BREAKER_COOLDOWN, 30); then one order is let through
as a trial: created closes the breaker, another failure of the account opens it for another cool-down.

A failure of the account is a not-created one that the account itself caused: the provider refused
the gateway (misconfigured) or could not be reached (gateway.domain.provider_failures.account_failing).
A refusal of one order says nothing about the next, nor does a time-out or an unclear answer (the
order stays on the account as unknown): neither counts. A created order resets the count.

Each process counts its own (no shared write on the order path); the console and `gateway check`
show the state derived from the recorded attempts, which every worker writes
(gateway.domain.attempts.breaker_states).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from gateway.plugin.settings import Settings

DEFAULT_FAILURES = 5
DEFAULT_COOLDOWN = 30.0


@dataclass(frozen=True)
class BreakerSettings:
    failures: int = DEFAULT_FAILURES
    cooldown: float = DEFAULT_COOLDOWN

    @classmethod
    def from_settings(cls, settings: Settings) -> BreakerSettings:
        return cls(
            failures=settings.count("GATEWAY_BREAKER_FAILURES", DEFAULT_FAILURES, maximum=1000),  # 0: never opens
            cooldown=settings.number("GATEWAY_BREAKER_COOLDOWN", DEFAULT_COOLDOWN),
        )


@dataclass
class _State:
    failures: int = 0
    opened_at: float | None = None
    trial_at: float | None = None  # when the one trial order was let through (None: not yet)


class Breakers:
    def __init__(self, settings: BreakerSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.clock = clock
        self._states: dict[str, _State] = {}
        self._lock = threading.Lock()

    def is_open(self, account_id: str) -> bool:
        """Skipped now (no side effect: for the dry run and the metrics)."""
        with self._lock:
            state = self._states.get(account_id)
            return state is not None and self._closed_to_orders(state)

    def allow(self, account_id: str) -> bool:
        """May an order be sent now? After a cool-down the first caller takes the one trial."""
        with self._lock:
            state = self._states.get(account_id)
            if state is None or state.opened_at is None:
                return True
            if self._closed_to_orders(state):
                return False
            state.trial_at = self.clock()
            return True

    def created(self, account_id: str) -> None:
        with self._lock:
            self._states.pop(account_id, None)

    def not_created(self, account_id: str) -> None:
        with self._lock:
            state = self._states.setdefault(account_id, _State())
            state.failures += 1
            if self.settings.failures and (state.failures >= self.settings.failures or state.opened_at is not None):
                state.opened_at = self.clock()  # (re)opened: a failed trial waits another cool-down
                state.trial_at = None

    def unclear(self, account_id: str) -> None:
        """A time-out or unclear answer: neither a failure nor a success; a trial slot is given back."""
        with self._lock:
            state = self._states.get(account_id)
            if state is not None:
                state.trial_at = None

    def open_accounts(self) -> list[str]:
        with self._lock:
            return sorted(account for account, state in self._states.items() if self._closed_to_orders(state))

    def _closed_to_orders(self, state: _State) -> bool:
        if state.opened_at is None:
            return False
        now = self.clock()
        if now - state.opened_at < self.settings.cooldown:
            return True
        # A trial in flight keeps the others out; one that never reported (its order was refused before
        # the call, say) frees the slot after another cool-down, so the account is never skipped for good.
        return state.trial_at is not None and now - state.trial_at < self.settings.cooldown
