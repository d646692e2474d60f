"""The benchmark's trace summary: top-level slices only (nested ones are not counted twice),
waits for the GPU process, long tasks, per thread, per second."""

from __future__ import annotations

from typing import Any

from tests.web.chrome_trace import summary


def _thread(pid: int, tid: int, name: str) -> dict[str, Any]:
    return {"ph": "M", "name": "thread_name", "pid": pid, "tid": tid, "args": {"name": name}}


def _slice(pid: int, tid: int, name: str, ts_ms: float, dur_ms: float) -> dict[str, Any]:
    return {"ph": "X", "name": name, "pid": pid, "tid": tid, "ts": ts_ms * 1000.0,
            "dur": dur_ms * 1000.0}


def test_summary_counts_top_level_slices_per_second() -> None:
    events = [
        _thread(1, 1, "CrRendererMain"), _thread(1, 2, "DedicatedWorker thread"),
        _thread(2, 1, "CrGpuMain"), _thread(3, 1, "CrRendererMain"),  # an idle second renderer
        # 2 s traced. Main thread: a 100 ms task holding a 60 ms wait for the GPU (nested: not
        # counted twice), then a 30 ms task.
        _slice(1, 1, "RunTask", 0.0, 100.0),
        _slice(1, 1, "CommandBufferProxyImpl::WaitForGetOffset", 20.0, 60.0),
        _slice(1, 1, "RunTask", 500.0, 30.0),
        _slice(2, 1, "RunTask", 10.0, 70.0),
        _slice(1, 2, "RunTask", 1000.0, 40.0),
        _slice(3, 1, "RunTask", 1990.0, 10.0),  # the trace's end
    ]
    got = summary(events)
    assert got.startswith("2.0 s traced: ")
    assert "renderer main thread busy 65 ms/s, of which waiting for the GPU process 30 ms/s, " \
           "1 tasks over 50 ms" in got
    assert "GPU process (software WebGL) 35 ms/s" in got
    assert "map worker 20 ms/s" in got


def test_summary_of_nothing() -> None:
    assert summary([]) == "no events"
