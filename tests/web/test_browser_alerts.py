"""A new alert in a real headless Chromium: a critical one flashes the inbox and sounds a tone
(Chromium's own Web Audio, counted), the mute box silences the tone but not the flash and is
remembered across a reload, and a lesser alert neither flashes nor sounds."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import zmq

from cuas import bus, wire
from tests.web import browser
from tests.web.helpers import PASSWORDS, site_config, until
from tests.web.stack import cuas, stop, wait_for_line

pytestmark = pytest.mark.skipif(browser.missing() is not None,
                                reason=str(browser.missing()))


def _snapshot(seq: int, lat0: float, lon0: float) -> wire.Tracks:
    t = time.time()
    return wire.Tracks("alert-test", seq, t, (wire.Track(
        id=7, status="confirmed", lla=(lat0, lon0, 120.0), enu=(0.0, 0.0, 30.0),
        vel=(0.0, 0.0, 0.0), pos_sigma=(3.0, 3.0, 5.0), t_update=t, sources=("radar-north",),
        class_probs={"uav": 0.7, "bird": 0.1, "manned": 0.1, "clutter": 0.1}, threat="high",
        malicious=False, reasons=("over the stands",)),))


@dataclass
class Console:
    url: str
    alerts: queue.Queue[wire.Alert]


def _publish(endpoint: str, halt: threading.Event, alerts: queue.Queue[wire.Alert],
             lat0: float, lon0: float) -> None:
    ctx = zmq.Context()
    sock = ctx.socket(zmq.PUB)
    sock.bind(endpoint)
    seq = 0
    try:
        while not halt.is_set():
            sock.send_multipart(bus.frames(_snapshot(seq, lat0, lon0)))
            seq += 1
            while not alerts.empty():
                sock.send_multipart(bus.frames(alerts.get()))
            halt.wait(0.25)
    finally:
        sock.close(0)
        ctx.term()


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Console]:
    config = site_config(tmp_path)
    assert config.path is not None
    halt = threading.Event()
    alerts: queue.Queue[wire.Alert] = queue.Queue()
    pub = threading.Thread(target=_publish, args=(config.bus.tracks, halt, alerts,
                                                  config.site.lat, config.site.lon), daemon=True)
    pub.start()
    web = cuas("web", "--config", config.path, log=tmp_path / "web.log")
    try:
        line = wait_for_line(tmp_path / "web.log", "console at", web, 60)
        yield Console(line.split("console at ", 1)[1].split()[0], alerts)
    finally:
        stop(web)
        halt.set()
        pub.join(5)



#: Counts the tones the page starts, the real Web Audio doing the rest; and takes the flash off
#: the inbox, so that the next alert's flash is seen to be put back.
SPY = """
const proto = AudioContext.prototype;
if (!proto.__counted) {
  const real = proto.createOscillator;
  proto.createOscillator = function () { window.__tones = (window.__tones || 0) + 1;
                                         return real.call(this); };
  proto.__counted = true;
}
window.__tones = window.__tones || 0;
document.getElementById('alerts').classList.remove('flash');
"""
STATE = """return [document.getElementById('alerts').classList.contains('flash'), window.__tones,
                   !!document.querySelector(`#inbox > li[data-alert='${arguments[0]}']`)]"""


@pytest.mark.timeout(300)
def test_a_critical_alert_flashes_and_sounds_unless_muted(console: Console) -> None:
    from selenium.webdriver.common.by import By

    driver = browser.chromium()
    seq = iter(range(1, 100))

    def alert(aid: str, threat: str) -> str:
        console.alerts.put(wire.Alert("alert-test", next(seq), time.time(), 7, threat, "high",
                                      ("inside the stadium bowl (no-fly zone)",), "bowl", aid))
        return aid

    def arrived(aid: str) -> list[Any]:
        return until(f"alert {aid} in the inbox", lambda: (lambda s: s[2] and s)(
            driver.execute_script(STATE, aid)), 20)

    try:
        browser.log_in(driver, console.url, "victor", PASSWORDS["victor"])
        until("the track", lambda: driver.execute_script(
            "return window.cuas.state.tracks.size") == 1, 30)
        driver.execute_script(SPY)
        flash, tones, _ = arrived(alert("a1", "critical"))
        assert (flash, tones) == (True, 1)

        driver.find_element(By.ID, "mute").click()  # muted: the flash stays, the tone goes
        driver.execute_script(SPY)
        flash, tones, _ = arrived(alert("a2", "critical"))
        assert (flash, tones) == (True, 1)

        driver.refresh()  # the mute box is remembered
        until("the console again", lambda: driver.execute_script(
            "return !!(window.cuas && window.cuas.state.ready && window.cuas.state.me)"), 30)
        assert driver.find_element(By.ID, "mute").is_selected()
        driver.find_element(By.ID, "mute").click()
        assert not driver.find_element(By.ID, "mute").is_selected()

        driver.execute_script(SPY)  # a lesser alert: in the inbox, no flash, no tone
        flash, tones, _ = arrived(alert("a3", "medium"))
        assert (flash, tones) == (False, 0)
        driver.execute_script(SPY)  # unmuted again, a critical one sounds
        flash, tones, _ = arrived(alert("a4", "critical"))
        assert (flash, tones) == (True, 1)
    finally:
        driver.quit()


@pytest.mark.timeout(300)
def test_an_admin_adds_and_removes_a_user_in_the_console(console: Console) -> None:
    from selenium.webdriver.common.by import By

    users = "return [...document.querySelectorAll('#users li')].map((e) => e.firstChild.textContent)"
    driver = browser.chromium()
    try:
        browser.log_in(driver, console.url, "ada", PASSWORDS["ada"])
        assert driver.find_element(By.ID, "admin").is_displayed()
        until("the users", lambda: driver.execute_script(users) == [
            "ada (admin) ", "olivia (operator) ", "victor (viewer) "], 20)
        driver.find_element(By.ID, "newname").send_keys("nina")
        driver.find_element(By.ID, "newpass").send_keys("nina-pass-123")
        driver.find_element(By.CSS_SELECTOR, "#useradd button").click()
        until("nina listed", lambda: "nina (viewer) " in driver.execute_script(users), 20)
        row = next(li for li in driver.find_elements(By.CSS_SELECTOR, "#users li")
                   if li.text.startswith("nina"))
        row.find_element(By.TAG_NAME, "button").click()
        until("nina gone", lambda: driver.execute_script(users) == [
            "ada (admin) ", "olivia (operator) ", "victor (viewer) "], 20)
    finally:
        driver.quit()
