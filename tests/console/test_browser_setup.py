"""Without a browser, the browser tests skip on a laptop (saying how to install one) and fail in CI."""
from __future__ import annotations

import pytest

from tests.console import browser


def test_a_missing_browser_skips_with_the_install_command(monkeypatch):
    monkeypatch.setattr(browser, "CHROMIUM", "/nonexistent/chromium")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install -y chromium chromium-driver"):
        browser.require_browser()


def test_a_missing_browser_fails_when_ci_is_set(monkeypatch):
    monkeypatch.setattr(browser, "CHROMEDRIVER", "/nonexistent/chromedriver")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="may not be skipped"):
        browser.require_browser()


def test_the_driver_is_the_systems_and_selenium_manager_cannot_run():
    from selenium.webdriver.common.selenium_manager import SeleniumManager

    browser.require_browser()
    driver = browser.start_chrome()
    try:
        assert driver.service.path == browser.CHROMEDRIVER
        assert SeleniumManager.binary_paths is browser._refuse_selenium_manager
        with pytest.raises(AssertionError, match="must not run"):
            SeleniumManager().binary_paths(["--browser", "chrome"])
    finally:
        driver.quit()
