"""The console's track list with a thousand tracks, in a real headless Chromium: only the rows
in view exist, scrolling shows the others, and a click on one selects its track."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
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

N = 1000


def _snapshot(seq: int, lat0: float, lon0: float) -> wire.Tracks:
    """``N`` still tracks on a grid round the site; every hundredth (ids 1, 101, ...) high."""
    t = time.time()
    tracks = tuple(wire.Track(
        id=i + 1, status="confirmed",
        lla=(lat0 + (i // 40 - 12) * 0.0004, lon0 + (i % 40 - 20) * 0.0006, 120.0),
        enu=(0.0, 0.0, 30.0), vel=(0.0, 0.0, 0.0), pos_sigma=(3.0, 3.0, 5.0), t_update=t,
        sources=("radar-north",), class_probs={"uav": 0.7, "bird": 0.1, "manned": 0.1,
                                                "clutter": 0.1},
        threat="high" if i % 100 == 0 else "none", malicious=False, reasons=())
        for i in range(N))
    return wire.Tracks("list-test", seq, t, tracks)


def _publish(endpoint: str, halt: threading.Event, lat0: float, lon0: float) -> None:
    ctx = zmq.Context()
    sock = ctx.socket(zmq.PUB)
    sock.bind(endpoint)
    seq = 0
    try:
        while not halt.is_set():
            sock.send_multipart(bus.frames(_snapshot(seq, lat0, lon0)))
            seq += 1
            halt.wait(0.5)
    finally:
        sock.close(0)
        ctx.term()


@pytest.fixture
def console(tmp_path: Path) -> Iterator[str]:
    config = site_config(tmp_path)
    assert config.path is not None
    halt = threading.Event()
    pub = threading.Thread(target=_publish, args=(config.bus.tracks, halt, config.site.lat,
                                                  config.site.lon), daemon=True)
    pub.start()
    web = cuas("web", "--config", config.path, log=tmp_path / "web.log")
    try:
        line = wait_for_line(tmp_path / "web.log", "console at", web, 60)
        yield line.split("console at ", 1)[1].split()[0]
    finally:
        stop(web)
        halt.set()
        pub.join(5)



def _no_script_errors(driver: Any) -> None:
    """Nothing the console's own scripts (or their shaders) raised reached the browser's log."""
    errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"
              and ("/static/" in e["message"] or "WebGL" in e["message"])]
    assert not errors, errors


ROWS = "return [...document.querySelectorAll('#tracklist li:not(.spacer)')].map((e) => e.textContent)"


@pytest.mark.timeout(300)
def test_a_thousand_tracks_list_only_the_rows_in_view(console: str) -> None:
    from selenium.webdriver.common.by import By

    driver = browser.chromium()
    try:
        browser.log_in(driver, console, "victor", PASSWORDS["victor"])
        until("every track", lambda: driver.execute_script(
            "return window.cuas.state.tracks.size") == N, 60)
        until("the count", lambda: driver.find_element(By.ID, "trackcount").text == f"({N})", 10)
        rows = until("the rows", lambda: driver.execute_script(ROWS), 10)
        # A screenful and its margins, not a thousand; the worst first (ids 1, 101, ...).
        assert 10 <= len(rows) <= 80, len(rows)
        assert rows[0].startswith("#1uav") and rows[1].startswith("#101uav"), rows[:2]
        height = driver.execute_script("return document.getElementById('tracklist').scrollHeight")
        assert height >= N * 20  # the list scrolls as if every row were there
        # Scrolled to the end: the last rows exist (the highest ids, no threat), still few.
        driver.execute_script("const l = document.getElementById('tracklist');"
                              "l.scrollTop = l.scrollHeight;")
        rows = until("the last row", lambda: (lambda r: r and r[-1].startswith(f"#{N}uav") and r)(
            driver.execute_script(ROWS)), 10)
        assert 10 <= len(rows) <= 80, len(rows)
        last = driver.find_elements(By.CSS_SELECTOR, "#tracklist li:not(.spacer)")[-1]
        assert last.is_displayed()
        last.click()
        until("the selection", lambda: driver.execute_script(
            "return window.cuas.state.selected") == N, 10)
        until("the drill-down", lambda: f"#{N} (confirmed)" in driver.find_element(
            By.ID, "detail").text, 10)
        until("the row marked selected", lambda: driver.execute_script(
            "const r = [...document.querySelectorAll('#tracklist li.sel')];"
            "return r.length === 1 && r[0].dataset.id === arguments[0]", str(N)), 10)
        # The map shows the selection too: a ring drawn round that track's symbol, and round
        # no other (read back from the GPU).
        where = "window.cuas.drawnAt(arguments[0], arguments[1]).then(arguments[2])"
        ring = until("the ring", lambda: driver.execute_async_script(where, [N], True)[str(N)], 10)
        symbol = driver.execute_async_script(where, [N], False)[str(N)]
        assert symbol is not None
        assert abs(ring[0] - symbol[0]) < 1.0 and abs(ring[1] - symbol[1]) < 1.0, (ring, symbol)
        assert driver.execute_async_script(where, [1, N - 1], True) == {"1": None,
                                                                        str(N - 1): None}
        _no_script_errors(driver)
    finally:
        driver.quit()


@pytest.mark.timeout(300)
def test_on_a_high_dpi_screen_tracks_are_drawn_in_place_and_picked(console: str) -> None:
    """Two device pixels to the CSS pixel: the WebGL layer's sizes and read-backs must not mix
    them up."""
    driver = browser.chromium(scale=2.0)
    try:
        browser.log_in(driver, console, "victor", PASSWORDS["victor"])
        until("every track", lambda: driver.execute_script(
            "return window.cuas.state.tracks.size") == N, 60)
        assert driver.execute_script("return window.devicePixelRatio") == 2
        view = driver.execute_script("return window.cuas.view()")
        tracks = driver.execute_script("return [...window.cuas.state.tracks.values()]")
        places = {int(p[0]): browser.mercator_pixel(view, p[1], p[2]) for p in tracks}
        inside = {tid: xy for tid, xy in places.items()
                  if 20 < xy[0] < view["width"] - 20 and 20 < xy[1] < view["height"] - 20}
        assert len(inside) >= 100, len(inside)
        # Spread over the view (every 37th id: the grid is 40 wide) and near its centre (still
        # in view once the window is narrower, below).
        centre = (view["width"] / 2, view["height"] / 2)
        near = sorted(inside, key=lambda t: math.dist(inside[t], centre))[:15]
        some = sorted(set(sorted(inside)[::37]) | set(near))
        drawn = until("a redraw with the tracks", lambda: (lambda d: all(d.values()) and d)(
            driver.execute_async_script(
                "window.cuas.drawnAt(arguments[0]).then(arguments[1])", some)), 10)
        for tid in some:
            (x, y), got = inside[tid], drawn[str(tid)]
            assert abs(got[0] - x) < 1.0 and abs(got[1] - y) < 1.0, (tid, got, (x, y))
        # A symbol's drawn size is 24 CSS px whatever the screen: the quad of a track alone
        # covers 48 x 48 device pixels (a row or column more where its edge falls on pixel
        # centres: rounding).
        assert all(47 * 48 <= drawn[str(tid)][2] <= 49 * 49 for tid in some), drawn
        # A click picks what is under it, in CSS px.
        x, y = inside[some[0]]
        assert driver.execute_async_script(
            "window.cuas.renderedAt(arguments[0], arguments[1], 1).then(arguments[2])",
            x, y) == [some[0]]
        # A narrower window: the map resizes, the symbols keep their place and size.
        driver.set_window_size(1100, 900)
        view = until("the map resized", lambda: (lambda v: v["width"] < view["width"] and v)(
            driver.execute_script("return window.cuas.view()")), 10)
        places = {int(p[0]): browser.mercator_pixel(view, p[1], p[2]) for p in tracks}
        some = [tid for tid in some
                if 20 < places[tid][0] < view["width"] - 20 and 20 < places[tid][1] < view["height"] - 20]
        assert len(some) >= 15, len(some)
        drawn = driver.execute_async_script(
            "window.cuas.drawnAt(arguments[0]).then(arguments[1])", some)
        for tid in some:
            (x, y), got = places[tid], drawn[str(tid)]
            assert abs(got[0] - x) < 1.0 and abs(got[1] - y) < 1.0 and 47 * 48 <= got[2] <= 49 * 49, (
                tid, got, (x, y))
        _no_script_errors(driver)
    finally:
        driver.quit()
