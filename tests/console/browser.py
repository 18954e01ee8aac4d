"""A real browser for the console's tests: Debian's chromium, driven by Selenium through the system's
chromedriver. Nothing is ever downloaded: both paths are given explicitly and Selenium Manager (which
would look for, and fetch, a driver) is made to fail if anything calls it.

Without chromium or chromedriver the browser tests are skipped with how to install them; with the
environment variable CI set (CI runs .ci/run with CI=true), a missing browser is a failure instead,
so CI can never pass having skipped them.
"""
from __future__ import annotations

import os
import threading

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
INSTALL = "apt-get update && apt-get install -y chromium chromium-driver"


def require_browser() -> None:
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not (os.path.exists(path) and os.access(path, os.X_OK))]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium package (make test installs requirements-dev.txt)")
    if not missing:
        return
    message = f"browser tests need {', '.join(missing)}: install with `{INSTALL}`"
    if os.environ.get("CI"):
        pytest.fail(f"CI is set, so the browser tests may not be skipped: {message}", pytrace=False)
    pytest.skip(message)


def _refuse_selenium_manager(*args, **kwargs):
    raise AssertionError("Selenium Manager must not run: the driver and browser paths are set explicitly")


def start_chrome(width: int = 1280, height: int = 900):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common import selenium_manager

    selenium_manager.SeleniumManager.binary_paths = _refuse_selenium_manager
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--no-first-run", "--disable-extensions", "--disable-background-networking",
                     f"--window-size={width},{height}"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


class LiveServer:
    """The app behind a real HTTP server on 127.0.0.1 (werkzeug's, threaded), for the browser."""

    def __init__(self, app):
        from werkzeug.serving import make_server

        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="console-live-server", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)


