"""The breaker per account: N not-created failures in a row skip it for a cool-down, then one trial."""

from __future__ import annotations

from gateway.domain.breaker import Breakers, BreakerSettings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def breakers(failures: int = 3, cooldown: float = 30.0) -> tuple[Breakers, Clock]:
    clock = Clock()
    return Breakers(BreakerSettings(failures, cooldown), clock), clock


def test_it_opens_after_n_not_created_failures_in_a_row_and_only_then() -> None:
    breaker, _ = breakers(failures=3)
    for _ in range(2):
        breaker.not_created("a")
    assert breaker.allow("a") and not breaker.is_open("a")
    breaker.not_created("a")
    assert breaker.is_open("a") and not breaker.allow("a")
    assert breaker.allow("b")  # per account
    assert breaker.open_accounts() == ["a"]


def test_a_created_order_resets_the_count_and_unclear_outcomes_do_not_count() -> None:
    breaker, _ = breakers(failures=2)
    breaker.not_created("a")
    breaker.created("a")
    breaker.not_created("a")
    for _ in range(5):
        breaker.unclear("a")  # time-outs say nothing about whether the account works
    assert breaker.allow("a")


def test_after_the_cool_down_one_trial_goes_through_and_decides() -> None:
    breaker, clock = breakers(failures=1, cooldown=30)
    breaker.not_created("a")
    clock.now += 29.9
    assert not breaker.allow("a")
    clock.now += 0.2
    assert breaker.allow("a")  # the one trial
    assert not breaker.allow("a") and breaker.is_open("a")  # while it runs, others still skip the account
    breaker.not_created("a")  # the trial failed: another cool-down
    clock.now += 10
    assert not breaker.allow("a")
    clock.now += 21
    assert breaker.allow("a")
    breaker.created("a")  # the trial worked: closed
    assert breaker.allow("a") and breaker.allow("a") and not breaker.is_open("a")


def test_a_dry_run_look_takes_no_trial() -> None:
    breaker, clock = breakers(failures=1, cooldown=5)
    breaker.not_created("a")
    clock.now += 6
    assert not breaker.is_open("a") and not breaker.is_open("a")
    assert breaker.allow("a")


def test_zero_failures_means_never_open() -> None:
    breaker, _ = breakers(failures=0)
    for _ in range(100):
        breaker.not_created("a")
    assert breaker.allow("a")


def test_a_trial_that_never_reports_frees_its_slot_after_another_cool_down() -> None:
    breaker, clock = breakers(failures=1, cooldown=30)
    breaker.not_created("a")
    clock.now += 31
    assert breaker.allow("a")  # the trial's order is then refused before any call: no outcome comes
    clock.now += 29
    assert not breaker.allow("a")
    clock.now += 2
    assert breaker.allow("a")
