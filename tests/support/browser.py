"""Headless Chromium through Selenium (Debian's chromium and chromium-driver), for tests a browser must pass."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
CHROMIUM_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run")


def start_chromium(profile: Path, *flags: str) -> Any:
    """A headless Chromium driver (quit it when done); skips the test without one, fails it in CI."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not (chromium and driver_path):
        message = "no chromium + chromedriver (apt-get install chromium chromium-driver)"
        if IN_CI:
            pytest.fail(message + ": CI must run the browser test")
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (*CHROMIUM_FLAGS, *flags):
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    driver.set_page_load_timeout(30)
    return driver
