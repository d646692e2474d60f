"""The console in a real headless Chromium, on the bundled demo recording replayed onto a real
daemon: the login page and a refused socket when logged out, tracks drawn where their
positions project, a click showing a track's reasons, an acknowledgement reaching the bus and
the audit log, markup in a Remote ID serial and a sensor id shown as text, and a viewer who
cannot acknowledge. Screenshots of each step go to ``out/web-screens/``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cuas import wire
from cuas.config import Config
from cuas.vocabulary import THREAT_LEVELS
from cuas.web import audit
from tests.web import browser
from tests.web.helpers import PASSWORDS, ROOT, site_config
from tests.web.stack import BusListener, config_path, cuas, publish, stop, wait_for_line

pytestmark = pytest.mark.skipif(browser.missing() is not None,
                                reason=str(browser.missing()))

SCREENS = ROOT / "out" / "web-screens"
RECORDING = ROOT / "recordings" / "wembley-demo.mcap"
#: Markup where an attacker controls the text: a Remote ID serial and a sensor id.
EVIL_SERIAL = '<img src=x onerror="window.__pwned=1">RID'
EVIL_SENSOR = '<b onmouseover="window.__pwned=2">rid-evil</b>'


@dataclass
class Stack:
    config: Config
    url: str
    bus: BusListener
    tmp: Path


def _wait(what: str, check: Any, timeout_s: float, every_s: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def _evil_batches(t0: float) -> list[wire.Message]:
    """A Remote ID drone over the bowl whose serial and sensor id hold markup."""
    return [wire.Detections(
        src="evil", seq=i, t=t0 + 1.0 + i, sensor=EVIL_SENSOR, kind="remoteid",
        dets=(wire.Detection(frame="lla", z=(51.5566, -0.2788 + 0.00005 * i, 150.0),
                             sigma=(3.0, 3.0, 5.0),
                             ident=wire.Ident(rid=EVIL_SERIAL,
                                              operator_lla=(51.5580, -0.2760, 92.0))),))
        for i in range(8)]


#: Each test is bounded; the first one's bound also covers the fixture below (processes, the
#: recording replayed as fast as the daemon takes it: about a minute on an idle machine).
@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    SCREENS.mkdir(parents=True, exist_ok=True)
    tmp = tmp_path_factory.mktemp("web")
    config = site_config(tmp)
    cfg = config_path(config)
    daemon = cuas("run", "--config", cfg, "--replay", log=tmp / "daemon.log")
    web = cuas("web", "--config", cfg, log=tmp / "web.log")
    listener = BusListener(config.bus.tracks).start()
    try:
        wait_for_line(tmp / "daemon.log", "detections on", daemon, 60)
        line = wait_for_line(tmp / "web.log", "console at", web, 60)
        url = line.split("console at ", 1)[1].split()[0]
        replay = cuas("replay", str(RECORDING), "--bus", "--speed", "0", "--config", cfg,
                      log=tmp / "replay.log")
        assert replay.wait(180) == 0, (tmp / "replay.log").read_text()
        last = _wait("the daemon's picture", lambda: listener.last, 60)
        # The replay has been sent; the daemon may still be working through it. Its picture
        # is final when the snapshots' time stops moving.
        settled: list[float] = []

        def final() -> bool:
            assert listener.last is not None
            settled.append(listener.last.t)
            return len(settled) > 15 and settled[-15] == settled[-1]

        # Ten minutes of recording at full speed: two minutes' work for the daemon on a loaded
        # machine, more at a load average of 15-20.
        _wait("the daemon to take in the whole replay", final, 360)
        last = listener.last
        assert last is not None
        publish(config.bus.detections, _evil_batches(last.t))
        _wait("the markup drone's track", lambda: listener.last is not None and any(
            t.ident is not None and t.ident.rid == EVIL_SERIAL for t in listener.last.tracks), 60)
        yield Stack(config, url, listener, tmp)
    finally:
        listener.close()
        stop(web)
        stop(daemon)


@pytest.fixture
def driver() -> Iterator[Any]:
    d = browser.chromium()
    try:
        yield d
    finally:
        d.quit()


@pytest.mark.timeout(900)
def test_a_logged_out_browser_gets_the_login_page_and_its_socket_is_refused(
        stack: Stack, driver: Any) -> None:
    driver.get(stack.url)
    assert driver.current_url == stack.url + "login"
    assert driver.find_element("id", "login").is_displayed()
    outcome = driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const ws = new WebSocket("ws://" + location.host + "/ws");
        ws.onopen = () => done("open");
        ws.onclose = (e) => done("closed " + e.code);""")
    assert outcome == "closed 1006"  # the upgrade was answered 401, never opened
    driver.save_screenshot(str(SCREENS / "01-login.png"))


def _page_tracks(driver: Any) -> dict[int, list[Any]]:
    got = driver.execute_script("return [...window.cuas.state.tracks.values()]")
    return {int(p[0]): p for p in got}


@pytest.mark.timeout(600)
def test_the_operator_sees_tracks_in_place_drills_down_and_acknowledges(
        stack: Stack, driver: Any) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    browser.log_in(driver, stack.url, "olivia", PASSWORDS["olivia"])
    snap = stack.bus.last
    assert snap is not None
    want = {t.id: t for t in snap.tracks}
    # The page holds the daemon's picture (the replay is over: it no longer changes).
    _wait("the page to hold the snapshot's tracks",
          lambda: set(_page_tracks(driver)) == set(want), 30)
    time.sleep(1.0)  # a render after the last frame
    for tid, p in _page_tracks(driver).items():
        assert abs(p[1] - want[tid].lla[1]) < 2e-6 and abs(p[2] - want[tid].lla[0]) < 2e-6
    driver.save_screenshot(str(SCREENS / "02-picture.png"))

    # Each track is drawn where its position projects, computed here from the map's view: the
    # centre of the pixels its symbol covers, read back from the GPU (WebGL), one track at a
    # time so that a neighbour drawn over it cannot hide it.
    view = driver.execute_script("return window.cuas.view()")
    assert view["bearing"] == 0 and view["pitch"] == 0
    places = {tid: browser.mercator_pixel(view, tr.lla[1], tr.lla[0]) for tid, tr in want.items()}
    inside = {tid: (x, y) for tid, (x, y) in places.items()
              if 20 < x < view["width"] - 20 and 20 < y < view["height"] - 20}
    assert len(inside) >= 5, f"only {len(inside)} tracks were in view"
    drawn = driver.execute_async_script(
        "window.cuas.drawnAt(arguments[0]).then(arguments[arguments.length - 1])", list(inside))
    for tid, (x, y) in inside.items():
        got = drawn[str(tid)]
        assert got is not None, f"track {tid} is not drawn (it projects to ({x:.0f}, {y:.0f}))"
        assert abs(got[0] - x) < 1.0 and abs(got[1] - y) < 1.0, (tid, got, (x, y))
    # And what the map shows at a track's place is a track there: the picking a click uses
    # (each symbol's pixels coloured by its id, read back from the GPU) finds a symbol whose
    # 24 px square reaches the spot, nothing else.
    for tid, (x, y) in list(inside.items())[:5]:
        ids = driver.execute_async_script(
            "window.cuas.renderedAt(arguments[0], arguments[1], 2)"
            ".then(arguments[arguments.length - 1])", x, y)
        assert ids, f"nothing picked at track {tid}'s place"
        for i in ids:
            px, py = places[i]
            assert abs(px - x) < 20 and abs(py - y) < 20, (tid, i, (x, y), (px, py))

    # A click on the map shows the track's reasons.
    # The most threatening track whose place on the map no panel (list, inbox) covers.
    def uncovered(t: Any) -> bool:
        px, py = browser.mercator_pixel(view, t.lla[1], t.lla[0])
        return bool(driver.execute_script("""const c = document.querySelector('#map canvas');
            const r = c.getBoundingClientRect();
            return document.elementFromPoint(r.left + arguments[0], r.top + arguments[1]) === c;
            """, px, py))

    target = max((t for t in want.values() if t.reasons and t.ident is None and uncovered(t)),
                 key=lambda t: (THREAT_LEVELS.index(t.threat), len(t.reasons)))
    x, y = browser.mercator_pixel(view, target.lla[1], target.lla[0])
    canvas = driver.find_element(By.CSS_SELECTOR, "#map canvas")
    ActionChains(driver).move_to_element_with_offset(
        canvas, int(x - view["width"] / 2), int(y - view["height"] / 2)).click().perform()
    _wait("the drill-down", lambda: driver.execute_script(
        "return window.cuas.state.selected") is not None, 10)
    selected = driver.execute_script("return window.cuas.state.selected")
    shown = want[selected]  # the click may land on a neighbour drawn on top: its reasons then
    # Read in one go: the panel is redrawn twice a second.
    reasons, text = driver.execute_script("""return [[...document.querySelectorAll(
        '#detail .reasons li')].map((e) => e.textContent),
        document.getElementById('detail').textContent]""")
    assert reasons == list(shown.reasons) and reasons
    assert f"#{selected}" in text
    driver.save_screenshot(str(SCREENS / "03-drilldown.png"))

    # Acknowledge the newest open alert with a note: on the bus and in the audit log.
    item = driver.find_element(By.CSS_SELECTOR, "#inbox > li.open")
    alert_id = item.get_attribute("data-alert")
    note = "seen from the north stand <script>x</script>"
    item.find_element(By.CSS_SELECTOR, "input.note").send_keys(note)
    item.find_element(By.CSS_SELECTOR, "button.ack").click()
    ack = _wait("the ack on the bus", lambda: next(
        (a for a in stack.bus.acks if getattr(a, "alert_id", None) == alert_id), None), 15)
    assert (ack.action, ack.user, ack.note) == ("acknowledged", "olivia", note)
    records = audit.read(stack.tmp / "audit.jsonl")  # the chain holds
    mine = [r for r in records if r["action"] == "acknowledged"]
    assert mine[-1]["alert_id"] == alert_id and mine[-1]["user"] == "olivia"
    assert mine[-1]["note"] == note and mine[-1]["role"] == "operator"
    assert mine[-1]["track_id"] == ack.track_id
    _wait("the inbox to show it", lambda: "acknowledged by olivia" in driver.execute_script(
        "return document.querySelector(`#inbox > li[data-alert='${arguments[0]}']`)"
        ".textContent", alert_id), 10)
    driver.save_screenshot(str(SCREENS / "04-acknowledged.png"))

    # Markup from the bus is text: no element was made of it, no script ran.
    assert driver.execute_script("return window.__pwned") is None
    assert not driver.find_elements(By.CSS_SELECTOR, "img[src='x'], #health b")
    _wait("the serial in the track list", lambda: EVIL_SERIAL in driver.find_element(
        By.ID, "tracklist").text, 10)
    _wait("the sensor id in the health panel", lambda: EVIL_SENSOR in driver.find_element(
        By.ID, "health").text, 10)
    # The same texts in the drill-down (identity, sources) and on the map's label, selected.
    evil = next(t.id for t in snap.tracks if t.ident and t.ident.rid == EVIL_SERIAL)
    driver.execute_script("window.cuas.select(arguments[0])", evil)
    _wait("the serial and sensor id in the drill-down", lambda: all(
        x in driver.find_element(By.ID, "detail").text for x in (EVIL_SERIAL, EVIL_SENSOR)), 10)
    labels = driver.execute_script(
        "return [...document.querySelectorAll('.label')].map((e) => e.textContent)")
    assert any(EVIL_SERIAL in text for text in labels), labels
    assert driver.execute_script(
        "return document.querySelectorAll('[onerror], [onmouseover], #detail img').length") == 0
    assert driver.execute_script("return window.__pwned") is None
    driver.save_screenshot(str(SCREENS / "04b-markup-as-text.png"))

    # Looking back does not stop the live view: the slider shows the past, Live returns.
    driver.execute_script("""const s = document.getElementById('slider');
        s.value = s.min; s.dispatchEvent(new Event('input'));""")
    _wait("a past frame", lambda: "looking back" in driver.find_element(
        By.ID, "pastlabel").text, 10)
    driver.save_screenshot(str(SCREENS / "05-look-back.png"))
    driver.find_element(By.ID, "live").click()
    assert driver.find_element(By.ID, "pastlabel").text == "live"


@pytest.mark.timeout(600)
def test_a_viewer_sees_but_cannot_acknowledge(stack: Stack, driver: Any) -> None:
    from selenium.webdriver.common.by import By

    browser.log_in(driver, stack.url, "victor", PASSWORDS["victor"])
    _wait("the inbox", lambda: driver.find_elements(By.CSS_SELECTOR, "#inbox > li"), 30)
    assert driver.find_elements(By.CSS_SELECTOR, "#inbox button.ack") == []
    status = driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const id = document.querySelector('#inbox > li').dataset.alert;
        fetch('/api/ack', {method: 'POST', credentials: 'same-origin',
          headers: {'Content-Type': 'application/json',
                    'X-CSRF-Token': window.cuas.state.me.csrf},
          body: JSON.stringify({alert_id: id, action: 'dismissed', note: ''})})
          .then((r) => done(r.status));""")
    assert status == 403
    driver.save_screenshot(str(SCREENS / "06-viewer.png"))
    driver.find_element(By.ID, "logout").click()
    _wait("the login page", lambda: driver.current_url.endswith("/login"), 10)
