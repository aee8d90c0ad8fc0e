"""Headless Chromium (Debian's ``chromium`` and ``chromium-driver`` packages) driven by selenium,
and a real daemon serving the console over the sandbox. Shared by the browser tests and
``make screenshots``."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.expected_conditions import staleness_of
from selenium.webdriver.support.wait import WebDriverWait

from sync_worker.service.daemon import Daemon
from tests.console.world import PAIR, ConsoleWorld

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WAIT_SECONDS = 30.0


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    for path, _package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not path.exists() and shutil.which(path.name) is None:
            return f"{path} is missing: `apt-get install chromium chromium-driver` (.ci/run does)"
    return None


def wait_for(check: Callable[[], bool], what: str, timeout: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


class Browser:
    """A signed-in (or not) person at the console, in headless Chromium."""

    def __init__(self, driver: webdriver.Chrome, base_url: str) -> None:
        self.driver = driver
        self.base_url = base_url

    def open(self, path: str) -> None:
        self.driver.get(self.base_url + path)

    @property
    def path(self) -> str:
        url: str = self.driver.current_url
        return url.removeprefix(self.base_url)

    def find(self, css: str) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def all(self, css: str) -> list[WebElement]:
        return list(self.driver.find_elements(By.CSS_SELECTOR, css))

    def text(self, css: str) -> str:
        found = self.all(css)
        return str(found[0].text) if found else ""

    def sign_in(self, name: str, password: str) -> None:
        if not self.path.startswith("/login"):
            self.open("/login")
        self.find("#username").send_keys(name)
        self.find("#password").send_keys(password)
        self.submit("#sign-in")

    def submit(self, css: str) -> None:
        """Click a button that loads another page, and wait until it has."""
        button = self.find(css)
        button.click()
        WebDriverWait(self.driver, WAIT_SECONDS).until(_detached(button))

    def sign_out(self) -> None:
        """Forget the session (the browser must be on a console page)."""
        if not self.driver.current_url.startswith(self.base_url):
            self.open("/login")
        self.driver.delete_all_cookies()

    def reload_until(self, check: Callable[[], bool], what: str) -> None:
        """Reload the page until ``check`` holds (the console has no script: a person reloads)."""

        def reloaded() -> bool:
            self.driver.refresh()
            return check()

        wait_for(reloaded, what)

    def csp_violations(self) -> list[str]:
        """Console messages since the last call that report a blocked resource."""
        entries: list[dict[str, str]] = self.driver.get_log("browser")  # type: ignore[no-untyped-call]
        return [str(e["message"]) for e in entries if "Content Security Policy" in e["message"]]

    def screenshot(self, path: Path, width: int = 1440) -> None:
        height = int(self.driver.execute_script("return document.documentElement.scrollHeight"))
        self.driver.set_window_size(width, max(600, min(height + 40, 2400)))
        self.driver.save_screenshot(str(path))


def _detached(element: WebElement) -> Callable[[webdriver.Chrome], bool]:
    """Selenium's ``staleness_of``, plus the other answer chromedriver gives when the page goes
    away between two checks: an "unhandled inspector error" saying the node "does not belong to
    the document" (seen under load, once in some hundred submits)."""
    stale = staleness_of(element)

    def check(driver: webdriver.Chrome) -> bool:
        try:
            return bool(stale(driver))
        except WebDriverException as exc:
            if "does not belong to the document" in str(exc):
                return True
            raise

    return check


@contextmanager
def chromium(base_url: str) -> Iterator[Browser]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-dev-shm-usage",
        "--window-size=1440,900",
        "--disable-gpu",
        "--no-first-run",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield Browser(driver, base_url)
    finally:
        with suppress(WebDriverException):  # the browser already went away: nothing to clean up
            driver.quit()


@dataclass(slots=True)
class Live:
    """A running daemon (scheduler, console) over a console world."""

    world: ConsoleWorld
    daemon: Daemon

    @property
    def url(self) -> str:
        assert self.daemon.console is not None
        return self.daemon.console.url

    def runs(self, pair: str = PAIR) -> int:
        return len(self.world.runtime.store.runs(pair))

    def next_cycle(self, pair: str = PAIR) -> None:
        """Ask for the pair's cycle now and wait until one more has finished."""
        store = self.world.runtime.store
        done = len([r for r in store.runs(pair) if r.outcome is not None])
        self.daemon.run_soon(pair)
        wait_for(
            lambda: len([r for r in store.runs(pair) if r.outcome is not None]) > done,
            f"a cycle of {pair}",
        )


@contextmanager
def live_daemon(world: ConsoleWorld) -> Iterator[Live]:
    daemon = Daemon(world.runtime)
    daemon.start()
    try:
        live = Live(world, daemon)
        wait_for(lambda: any(r.outcome == "ok" for r in world.runtime.store.runs(PAIR)), "a cycle")
        yield live
    finally:
        daemon.shutdown()
