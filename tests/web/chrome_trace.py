"""A Chrome trace of the page a Selenium driver shows, recorded over the DevTools protocol
(Selenium's own CDP calls cannot receive the trace's events, so this opens the browser's
DevTools WebSocket with aiohttp), and a summary of where the time went."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

CATEGORIES = ",".join((
    "devtools.timeline", "disabled-by-default-devtools.timeline", "v8.execute", "blink", "gpu",
    "cc", "viz", "toplevel"))


async def _record(ws_url: str, seconds: float) -> list[dict[str, Any]]:
    import aiohttp

    events: list[dict[str, Any]] = []
    async with aiohttp.ClientSession() as http, http.ws_connect(ws_url, max_msg_size=0) as ws:
        await ws.send_json({"id": 1, "method": "Tracing.start", "params": {
            "categories": CATEGORIES, "transferMode": "ReportEvents"}})
        await asyncio.sleep(seconds)
        await ws.send_json({"id": 2, "method": "Tracing.end"})
        async with asyncio.timeout(120):
            async for msg in ws:
                got = json.loads(msg.data)
                if got.get("method") == "Tracing.dataCollected":
                    events.extend(got["params"]["value"])
                elif got.get("method") == "Tracing.tracingComplete":
                    break
    return events


def record(driver: Any, seconds: float, path: Path) -> list[dict[str, Any]]:
    """Trace the browser for ``seconds``; the events, also written to ``path`` (open it in
    Chrome's Performance panel or https://ui.perfetto.dev)."""
    address = driver.capabilities["goog:chromeOptions"]["debuggerAddress"]
    with urllib.request.urlopen(f"http://{address}/json/version", timeout=10) as r:
        ws_url = json.load(r)["webSocketDebuggerUrl"]
    events = asyncio.run(_record(ws_url, seconds))
    path.write_text(json.dumps({"traceEvents": events}))
    return events


def summary(events: list[dict[str, Any]]) -> str:
    """Busy time per second of the threads that draw the page: the renderer's main thread (and
    how much of it waited for the GPU process), the GPU process's main thread (where software
    WebGL runs), the map's worker; and the main thread's long tasks."""
    names: dict[tuple[int, int], str] = {}
    for e in events:
        if e.get("ph") == "M" and e.get("name") == "thread_name":
            names[(e["pid"], e["tid"])] = e["args"]["name"]
    spans = [e for e in events if e.get("ph") == "X" and "dur" in e]
    if not spans:
        return "no events"
    t0 = min(e["ts"] for e in spans)
    seconds = max(1e-6, (max(e["ts"] + e["dur"] for e in spans) - t0) / 1e6)
    busy: Counter[tuple[int, int]] = Counter()
    waits: Counter[tuple[int, int]] = Counter()
    longs: Counter[tuple[int, int]] = Counter()
    ends: dict[tuple[int, int], float] = {}
    for e in sorted(spans, key=lambda e: (e["ts"], -e["dur"])):
        key = (e["pid"], e["tid"])
        if e["name"] == "CommandBufferProxyImpl::WaitForGetOffset":
            waits[key] += e["dur"]
        if e["ts"] >= ends.get(key, -1.0):  # a top-level slice: not inside the previous one
            busy[key] += e["dur"]
            ends[key] = e["ts"] + e["dur"]
            longs[key] += e["dur"] > 50_000

    def per_s(us: float) -> float:
        return us / 1e3 / seconds

    def busiest(thread: str) -> tuple[int, int] | None:
        keys = [k for k, n in names.items() if n == thread]
        return max(keys, key=lambda k: busy[k]) if keys else None

    main, gpu, worker = (busiest(n) for n in ("CrRendererMain", "CrGpuMain",
                                              "DedicatedWorker thread"))
    parts = []
    if main is not None:
        parts.append(f"renderer main thread busy {per_s(busy[main]):.0f} ms/s, of which waiting "
                     f"for the GPU process {per_s(waits[main]):.0f} ms/s, {longs[main]} tasks "
                     "over 50 ms")
    if gpu is not None:
        parts.append(f"GPU process (software WebGL) {per_s(busy[gpu]):.0f} ms/s")
    if worker is not None:
        parts.append(f"map worker {per_s(busy[worker]):.0f} ms/s")
    return f"{seconds:.1f} s traced: " + "; ".join(parts)
