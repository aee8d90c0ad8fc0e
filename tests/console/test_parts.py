"""The console's pure parts: password checks, the sign-in throttle, charts, time formats, and
the pairs table's budget column."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import SecretStr

from sync_worker.kernel.model import BySide, Side
from sync_worker.runtime.console_settings import ConsoleRole, ConsoleUser
from sync_worker.runtime.wiring import CredentialRef
from sync_worker.service.console.auth import Credentials, LoginThrottle
from sync_worker.service.console.charts import HEIGHT, LEFT, TOP, WIDTH, line_chart
from sync_worker.service.console.formats import ago, shown
from sync_worker.service.console.pairs import COLUMNS, Budget, budgets

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ADA = ConsoleUser("ada", ConsoleRole.OPERATOR, SecretStr("ada-passphrase-1"))


def test_credentials_check_the_password_and_the_sessions_role() -> None:
    known = Credentials([ADA])
    assert known.verify("ada", "ada-passphrase-1") is ADA
    assert known.verify("ada", "ada-passphrase-2") is None
    assert known.verify("nobody", "ada-passphrase-1") is None
    assert known.current("ada", "operator") is ADA
    assert known.current("ada", "viewer") is None  # the role changed since: sign in again
    assert known.current(None, None) is None
    assert "ada-passphrase" not in repr(ADA)


class Ticking:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_throttle_doubles_the_wait_after_the_free_failures_and_forgets_on_success() -> None:
    clock = Ticking()
    throttle = LoginThrottle(free=3, cap=10.0, clock=clock)
    keys = ["user:ada", "client:10.0.0.1"]
    waits = []
    for _ in range(7):
        throttle.failed(keys)
        waits.append(throttle.wait_seconds(keys))
    assert waits == [0.0, 0.0, 1.0, 2.0, 4.0, 8.0, 10.0]
    assert throttle.wait_seconds(["client:10.0.0.1"]) == 10.0  # any address guessing is slowed
    assert throttle.wait_seconds(["user:grace", "client:10.0.0.2"]) == 0.0
    clock.now += 10.0
    assert throttle.wait_seconds(keys) == 0.0
    throttle.succeeded(keys)
    throttle.failed(keys)
    assert throttle.wait_seconds(keys) == 0.0  # counting starts afresh


def test_a_chart_scales_time_across_and_values_up_from_zero() -> None:
    chart = line_chart(
        "API calls",
        "requests",
        [(T0 + timedelta(minutes=2), 4.0), (T0, 2.0), (T0 + timedelta(minutes=4), 0.0)],
    )
    xs = [x for x, _ in chart.dots]
    ys = [y for _, y in chart.dots]
    assert xs[0] == LEFT
    assert xs[-1] == WIDTH - 8
    assert xs[1] == (xs[0] + xs[2]) / 2
    assert ys[1] == TOP  # the peak at the top
    assert ys[2] == HEIGHT - 22  # zero on the axis
    assert chart.top_label == "4"
    assert chart.first_label == "2026-03-01 12:00:00 UTC"
    assert chart.points.count(",") == 3
    assert line_chart("x", "y", []).empty


def test_times_read_as_people_say_them() -> None:
    assert ago(T0 - timedelta(seconds=42), T0) == "42s ago"
    assert ago(T0 - timedelta(minutes=5), T0) == "5m ago"
    assert ago(T0 - timedelta(hours=3), T0) == "3h ago"
    assert ago(T0 - timedelta(days=3), T0) == "3d ago"
    assert ago(T0 + timedelta(minutes=5), T0) == "in 5m"
    assert ago(None, T0) == "-"
    assert shown(None) == shown("") == "—"
    assert shown("a@x;b@x") == "a@x; b@x"


class Limiter:
    def __init__(self, label: str, remaining: int | None) -> None:
        self.label = label
        self.daily_remaining = remaining
        self.waited_seconds = 0.0
        self.refusals: dict[str, int] = {}


class Limiters:
    def __init__(self, *found: Limiter) -> None:
        self.found = list(found)

    def limiters(self) -> list[Limiter]:
        return self.found


def test_budgets_show_each_sides_credential_as_its_limiter_heard_it() -> None:
    refs = BySide(CredentialRef("partner", "https://p#abc"), CredentialRef("rep", "https://r#def"))
    partner, rep = budgets(refs, Limiters(Limiter("https://r#def", 249_812)))
    assert partner == Budget(Side.PARTNER, "partner", None, "not reported")
    assert rep == Budget(Side.REP, "rep", 249_812)
    assert rep.text() == "rep: 249,812"
    unpaced = BySide(CredentialRef("partner", None), CredentialRef("rep", None))
    assert budgets(unpaced, Limiters())[0].text() == "partner: not paced"


def test_the_pairs_table_is_a_list_of_columns() -> None:
    headings = [c.heading for c in COLUMNS]
    assert headings[0] == "pair"
    for wanted in ("lag", "links", "open conflicts", "dead letters", "out of scope"):
        assert wanted in headings
    assert "daily budget left" in headings
    assert "held by" in headings
    assert headings[-1] == "last failure"
