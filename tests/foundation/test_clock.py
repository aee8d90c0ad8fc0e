"""The clocks: a stopping process cuts every sleep short, for real and in tests."""

from __future__ import annotations

import threading
import time

import pytest

from sync_worker.kernel.clock import FakeClock, SystemClock
from sync_worker.kernel.errors import Interrupted


def test_interrupt_cuts_a_real_sleep_short_and_every_later_one() -> None:
    clock = SystemClock()
    clock.sleep(0.01)  # an ordinary sleep
    outcome: list[BaseException] = []

    def sleeper() -> None:
        try:
            clock.sleep(600)
        except Interrupted as exc:
            outcome.append(exc)

    thread = threading.Thread(target=sleeper)
    thread.start()
    clock.interrupt()
    thread.join(timeout=30)
    assert not thread.is_alive()  # far sooner than the 600 s asked for
    assert len(outcome) == 1
    assert "600.0 s was cut short" in str(outcome[0])
    started = time.monotonic()
    with pytest.raises(Interrupted):
        clock.sleep(600)
    assert time.monotonic() - started < 30


def test_a_fake_clock_interrupted_refuses_to_sleep_and_does_not_advance() -> None:
    clock = FakeClock()
    before = clock.now()
    clock.sleep(5)
    clock.interrupt()
    with pytest.raises(Interrupted):
        clock.sleep(5)
    assert clock.sleeps == [5]
    assert (clock.now() - before).total_seconds() == 5
