"""A real headless Chromium (Debian's ``chromium`` and ``chromium-driver``) driven by Selenium,
and the page-side helpers the browser tests and the load benchmark share."""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def missing() -> str | None:
    """Why no browser test can run here, or None."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (the test extra installs it)"
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not Path(path).exists():
            return f"{path} is missing (.ci/run installs Debian's {package})"
    return None


def chromium(width: int = 1400, height: int = 900, scale: float = 1.0) -> Any:
    """A headless Chromium with software WebGL (SwiftShader: no GPU on CI); ``scale`` device
    pixels to the CSS pixel (2 for a high-DPI screen)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                f"--window-size={width},{height}", "--enable-unsafe-swiftshader", "--mute-audio",
                "--disable-background-timer-throttling", "--disable-renderer-backgrounding"):
        opts.add_argument(arg)
    if scale != 1.0:
        opts.add_argument(f"--force-device-scale-factor={scale:g}")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    return driver


def log_in(driver: Any, url: str, name: str, password: str) -> None:
    """Fill in the login page at ``url`` and wait for the console."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url + "login")
    driver.find_element(By.ID, "name").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "submit").click()
    WebDriverWait(driver, 30).until(lambda d: d.execute_script(
        "return !!(window.cuas && window.cuas.state.ready && window.cuas.state.me)"))


def mercator_pixel(view: dict[str, Any], lon: float, lat: float) -> tuple[float, float]:
    """Where a point must appear on a north-up Web Mercator map (CSS px from the canvas's top
    left), computed here from the map's centre and zoom alone: MapLibre's world is 512 px
    wide at zoom 0."""
    size = 512.0 * 2.0 ** view["zoom"]

    def world(lo: float, la: float) -> tuple[float, float]:
        x = (lo + 180.0) / 360.0 * size
        s = math.sin(math.radians(la))
        y = (0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)) * size
        return x, y

    cx, cy = world(*view["center"])
    x, y = world(lon, lat)
    return x - cx + view["width"] / 2.0, y - cy + view["height"] / 2.0
