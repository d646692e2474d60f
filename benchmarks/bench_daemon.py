#!/usr/bin/env python3
"""Benchmark: the fusion daemon end to end on loopback: sustained detections per second with
no loss, and detection-to-track latency.

Three processes on one host: the daemon (``python -m cuas.cli.main run`` with a temporary
configuration, its own event loop), a load generator (an XPUB connected to the detection
endpoint, publishing ``detections`` batches at a fixed rate of detections per second, each
stamped with the wall time at sending) and this process, which subscribes to the track
endpoint, timestamps every ``tracks`` snapshot on arrival and reads the daemon's ``status``
counters.

* Latency: for every ``(track id, t_update)`` seen for the first time in a snapshot received at
  wall time w, one sample w - t_update (``t_update`` is the stamp of the last detection the
  track used). A second view, "every detection", charges each batch sent the wait until the
  first snapshot whose newest ``t_update`` reaches its stamp (the tracker fuses in time order),
  so that updates overtaken before the next snapshot count too.
* Throughput: rising rates; a rate is sustained when every detection sent was received and
  fused (the daemon's ``received``, ``batches_fused`` and ``tracker_detections_used`` match
  the sender's counts, every ``dropped_*`` and ``seq_gaps`` is zero, the queue is empty at the
  end) and the daemon kept pace: at every heartbeat during the load, its newest fused batch was
  no more than the lateness window plus ``--max-lag`` behind the wall clock, and no two
  heartbeats were more than 2.5 s apart (a stalled daemon sends none, so it has no lag to
  check: that counted as keeping pace until issue 15).

Run ``python benchmarks/bench_daemon.py --help``; see benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import json
import math
import multiprocessing as mp
import os
import pstats
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import msgpack
import numpy as np
import zmq
from numpy.typing import NDArray

try:
    import cuas  # noqa: F401
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cuas import bus, wire  # noqa: E402
from cuas.config import DaemonConfig, SiteConfig, TrackerConfig  # noqa: E402
from cuas.fusion.timing import STAGES  # noqa: E402
from cuas.sim import generators as sim

F64 = NDArray[np.float64]

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"  # everything binds and connects on loopback only
DAEMON_ID = "cuas-bench"
PD = 0.9  # the simulator's probability of detection, for sizing the batches
SIGMA = sim.DEFAULT_SIGMA["enu"]
#: The issue's targets.
TARGET_SUSTAINED_DPS = 20_000.0
TARGET_P99_MS = 20.0
TARGET_P99_RATE = 2_000.0
#: A sender that falls this far below its nominal rate makes the step inconclusive.
SENDER_SHORTFALL = 0.97
STARTUP_TIMEOUT_S = 60.0
DRAIN_TIMEOUT_S = 10.0
#: The daemon beats every second: a longer silence during the load means it stalled.
MAX_HEARTBEAT_GAP_S = 2.5
#: Shortfalls that mean "still queued when measured", not lost (if fused by shutdown).
BACKLOG_KEYS = frozenset({"batches_fused_missing", "tracker_detections_used_missing",
                          "queue_depth"})


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class Load:
    """What the sender publishes: ``rate`` detections/s for ``duration_s``."""

    rate: float
    duration_s: float
    n_targets: int
    clutter: float  # mean false alarms per batch (Poisson)
    n_sensors: int
    seed: int
    #: Each plot carries ``attrs`` {"snr_db": ...} as real radars' do (the bundled one's).
    attrs: bool = False

    @property
    def dets_per_batch(self) -> float:
        return self.n_targets * PD + self.clutter


@dataclass(frozen=True)
class DaemonSettings:
    """What the daemon's temporary configuration states."""

    lateness_s: float
    snapshot_hz: float
    queue_size: int = DaemonConfig().queue_size
    #: ``daemon.merge_window_s`` when not the default.
    merge_window_s: float | None = None

    def label(self) -> str:
        merge = "" if self.merge_window_s is None else f", merge_window_s={self.merge_window_s:g}"
        return f"lateness_s={self.lateness_s:g}, snapshot_hz={self.snapshot_hz:g}{merge}"

    def toml(self) -> str:
        merge = ("" if self.merge_window_s is None
                 else f"merge_window_s = {self.merge_window_s!r}\n")
        return (f'daemon_id = "{DAEMON_ID}"\n\n[tracker]\nlateness_s = {self.lateness_s!r}\n\n'
                f"[daemon]\nsnapshot_hz = {self.snapshot_hz!r}\nqueue_size = {self.queue_size}\n"
                + merge)


DEFAULT_SETTINGS = DaemonSettings(TrackerConfig().lateness_s, DaemonConfig().snapshot_hz)


# --------------------------------------------------------------------------- load generator


def _packed_batches(load: Load) -> tuple[list[bytes], list[int]]:
    """Seeded scans (cuas.sim.generators ``random``, ENU, churn-free) sized for ``load``: the packed
    ``dets`` list of every batch and its number of detections. Times come from the wall clock
    at sending; the scan period only spaces the simulated trajectories."""
    per_batch = load.dets_per_batch
    n_scans = math.ceil(load.rate * load.duration_s / per_batch * 1.15) + 20
    period = per_batch / load.rate
    params = sim.SimParams(seed=load.seed, n_targets=load.n_targets,
                           duration_s=n_scans * period, scan_period_s=period,
                           clutter_per_scan=load.clutter, pd=PD, churn_fraction=0.0,
                           frame="enu", kind="radar", sigma=SIGMA)
    arrays = sim.simulate_arrays(params, SiteConfig())
    sig = list(SIGMA)
    packed, counts = [], []
    snr = np.random.default_rng(load.seed).uniform(8.0, 40.0, 4096).round(1).tolist()
    for k, scan in enumerate(arrays.scans):
        dets: list[dict[str, Any]] = [{"frame": "enu", "z": row, "sigma": sig}
                                      for row in scan.z.tolist()]
        if load.attrs:
            for j, d in enumerate(dets):
                d["attrs"] = {"snr_db": snr[(k + j) % len(snr)]}
        packed.append(msgpack.packb(dets))
        counts.append(len(dets))
    return packed, counts


_P = msgpack.packb
#: The batch's map, written by concatenation so that only seq and t are packed per message:
#: {v, type, src, seq, t, sensor, kind, dets} (a fixmap of 8 entries).
_HEAD = b"\x88" + _P("v") + _P(wire.VERSION) + _P("type") + _P("detections") + _P("src")


def encode_batch(sensor: bytes, seq: int, t: float, dets: bytes) -> bytes:
    """One ``detections`` payload; ``sensor`` is the packed sensor id, ``dets`` the packed list."""
    return b"".join((_HEAD, sensor, _P("seq"), _P(seq), _P("t"), _P(float(t)), _P("sensor"),
                     sensor, _P("kind"), _P("radar"), _P("dets"), dets))


def sender_main(load: Load, endpoint: str, conn: Connection) -> None:
    """The load generator process: wait for the daemon's subscription, publish ``load``,
    report what was sent (counts and every batch's stamp) through ``conn``."""
    try:
        packed, counts = _packed_batches(load)
        sensors = [f"radar-{i + 1}" for i in range(load.n_sensors)]
        topics = [f"det.{s}".encode() for s in sensors]
        packed_ids = [_P(s) for s in sensors]
        # The hand-packed payload must be what the contract says: check one against wire.
        probe = wire.decode(encode_batch(packed_ids[0], 0, time.time(), packed[0]))
        assert isinstance(probe, wire.Detections) and len(probe.dets) == counts[0]

        ctx = zmq.Context()
        sock = ctx.socket(zmq.XPUB)
        sock.setsockopt(zmq.XPUB_VERBOSE, 1)
        sock.setsockopt(zmq.SNDHWM, bus.DEFAULT_HWM)
        sock.setsockopt(zmq.LINGER, 5000)
        sock.connect(endpoint)
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:  # what a PUB sends before the subscription arrives is lost
            left = deadline - time.monotonic()
            if left <= 0 or not sock.poll(int(left * 1000)):
                conn.send(("error", "no subscription from the daemon"))
                return
            msg = sock.recv()
            if msg[:1] == b"\x01" and topics[0].startswith(msg[1:]):
                break
        conn.send(("ready", time.time()))

        total = load.rate * load.duration_s
        stamps = np.zeros(len(packed))
        seqs = [0] * load.n_sensors
        sent_dets = 0
        k = 0
        max_slip = 0.0
        cpu0 = time.process_time()
        start = time.perf_counter()
        hard_stop = start + 2.0 * load.duration_s + 5.0
        while sent_dets < total and k < len(packed):
            due = start + sent_dets / load.rate
            now = time.perf_counter()
            if now > hard_stop:
                break
            if due > now:
                time.sleep(due - now)
            else:
                max_slip = max(max_slip, now - due)
            s = k % load.n_sensors
            t = time.time()
            sock.send_multipart([topics[s], encode_batch(packed_ids[s], seqs[s], t, packed[k])])
            stamps[k] = t
            seqs[s] += 1
            sent_dets += counts[k]
            k += 1
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu0
        conn.send(("done", {
            "cpu_s": cpu,
            "batches": k,
            "detections": sent_dets,
            "elapsed_s": elapsed,
            "max_slip_s": max_slip,
            "stamps": stamps[:k],
            "counts": np.asarray(counts[:k], dtype=np.int64),
        }))
        sock.close()  # lingers until everything queued has gone
        ctx.term()
    except Exception as exc:  # the parent must hear of it, not wait for a timeout
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        raise


# --------------------------------------------------------------------------- daemon


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def profiled_daemon_main(config_path: str, det: str, trk: str, out: str) -> None:
    """An in-process :class:`cuas.fusion.daemon.Daemon` under cProfile until SIGINT; stats to ``out``
    (written on SIGINT, before the daemon's shutdown, which is not what is measured)."""
    from cuas.config import load_config
    from cuas.fusion.daemon import Daemon, settle_heap, warm_up

    config = load_config(config_path)
    warm_up(config)  # as `cuas run` does
    settle_heap()
    prof = cProfile.Profile()

    async def main() -> None:
        stop = asyncio.Event()

        def on_sigint() -> None:
            if not stop.is_set():
                prof.disable()
                prof.dump_stats(out)
            stop.set()

        asyncio.get_running_loop().add_signal_handler(signal.SIGINT, on_sigint)
        daemon = Daemon(config, bus.Endpoints(det, trk))
        prof.enable()
        await daemon.run(stop)

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # until the loop's handler is in place
    asyncio.run(main())


class DaemonProcess:
    """``cuas run`` in its own process (or, profiled, an in-process Daemon in a child)."""

    def __init__(self, settings: DaemonSettings, workdir: Path, profile_out: Path | None) -> None:
        self.config_path = workdir / "bench.toml"
        self.config_path.write_text(settings.toml())
        self.det = f"tcp://{HOST}:{free_port()}"
        self.trk = f"tcp://{HOST}:{free_port()}"
        self.stderr_path = workdir / "daemon.stderr"
        self._stderr = self.stderr_path.open("wb")
        self._proc: subprocess.Popen[bytes] | None = None
        self._child: Any = None
        if profile_out is None:
            env = dict(os.environ)
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "cuas.cli.main", "run", "--config", str(self.config_path),
                 "--det-endpoint", self.det, "--trk-endpoint", self.trk],
                stdout=subprocess.DEVNULL, stderr=self._stderr, cwd=ROOT, env=env)
        else:
            self._child = mp.get_context("spawn").Process(
                target=profiled_daemon_main,
                args=(str(self.config_path), self.det, self.trk, str(profile_out)), daemon=True)
            self._child.start()

    @property
    def pid(self) -> int:
        return int(self._proc.pid if self._proc is not None else self._child.pid)

    def alive(self) -> bool:
        if self._proc is not None:
            return self._proc.poll() is None
        return bool(self._child.is_alive())

    def interrupt(self) -> None:
        """SIGINT: the daemon flushes what it holds, publishes a last status and exits."""
        if self.alive():
            os.kill(self.pid, signal.SIGINT)

    def stop(self) -> int | None:
        """SIGINT (a clean shutdown), then SIGKILL if it has not ended within 20 s."""
        self.interrupt()
        if self._proc is not None:
            try:
                code: int | None = self._proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                code = self._proc.wait()
        else:
            self._child.join(timeout=60)
            if self._child.is_alive():
                self._child.kill()
                self._child.join()
            code = self._child.exitcode
        self._stderr.close()
        return code

    def stderr_tail(self, n: int = 8) -> list[str]:
        try:
            lines = self.stderr_path.read_text(errors="replace").splitlines()
        except OSError:
            return []
        return lines[-n:]


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (Linux /proc), None where unavailable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


# --------------------------------------------------------------------------- one run


@dataclass
class RunResult:
    """One daemon run under one load: what was sent, what the daemon said, what was seen."""

    mode: str
    rate: float
    duration_s: float
    settings: dict[str, float]
    n_targets: int
    clutter: float
    n_sensors: int
    sent_batches: int = 0
    sent_detections: int = 0
    achieved_rate: float = 0.0
    sender_max_slip_s: float = 0.0
    #: Share of one core each process used while the load ran (the host has os.cpu_count()).
    daemon_cpu: float | None = None
    sender_cpu: float | None = None
    counters: dict[str, int] = field(default_factory=dict)
    losses: dict[str, int] = field(default_factory=dict)
    no_loss: bool = False
    #: Batches fused by the time the daemon stopped (it flushes its queue and buffer first).
    fused_at_shutdown: int | None = None
    caught_up_s: float | None = None  # last send -> first heartbeat showing all fused
    max_lag_beyond_lateness_s: float | None = None
    snapshots: int = 0
    latency_updates_ms: dict[str, float] = field(default_factory=dict)
    latency_detections_ms: dict[str, float] = field(default_factory=dict)
    verdict: str = ""
    note: str = ""
    stderr: list[str] = field(default_factory=list)
    #: The daemon's own per-stage timing (cuas/fusion/timing.py) over the heartbeats during
    #: the load: per stage, samples, the median heartbeat's p50 and the worst p99 and max (us).
    stages: dict[str, dict[str, int]] = field(default_factory=dict)


def percentiles(samples_s: F64, weights: NDArray[np.int64] | None = None) -> dict[str, float]:
    """n, p50, p90, p99 and max in ms (weighted: a batch counts once per detection)."""
    if not len(samples_s):
        return {"n": 0}
    x = np.repeat(samples_s, weights) if weights is not None else samples_s
    if not len(x):
        return {"n": 0}
    p50, p90, p99 = np.percentile(x, [50, 90, 99]) * 1e3
    return {"n": len(x), "p50": float(p50), "p90": float(p90), "p99": float(p99),
            "max": float(x.max() * 1e3)}


def losses_of(counters: dict[str, int], sent_batches: int, sent_dets: int) -> dict[str, int]:
    """Everything that says a detection sent was not fused (all zero when nothing was lost)."""
    out = {k: v for k, v in counters.items() if k.startswith("dropped_") and v}
    for key in ("seq_gaps", "tracker_detections_dropped"):
        if counters.get(key, 0):
            out[key] = counters[key]
    for key, want in (("received", sent_batches), ("batches_fused", sent_batches),
                      ("tracker_detections_used", sent_dets)):
        if counters.get(key, 0) != want:
            out[f"{key}_missing"] = want - counters.get(key, 0)
    if counters.get("queue_depth", 0):
        out["queue_depth"] = counters["queue_depth"]
    return out


def run_once(mode: str, load: Load, settings: DaemonSettings, *, warmup_s: float,
             max_lag_s: float, profile_out: Path | None = None) -> RunResult:
    """Start a daemon, publish ``load`` at it, measure, stop it. ``mode``: latency|throughput."""
    res = RunResult(mode=mode, rate=load.rate, duration_s=load.duration_s,
                    settings={"lateness_s": settings.lateness_s,
                              "snapshot_hz": settings.snapshot_hz},
                    n_targets=load.n_targets, clutter=load.clutter, n_sensors=load.n_sensors)
    with tempfile.TemporaryDirectory(prefix="cuas-bench-") as tmp:
        daemon = DaemonProcess(settings, Path(tmp), profile_out)
        ctx = zmq.Context()
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.RCVHWM, bus.DEFAULT_HWM)
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.SUBSCRIBE, f"status.{DAEMON_ID}".encode())
        if mode == "latency":
            sub.setsockopt(zmq.SUBSCRIBE, b"trk")
        sub.connect(daemon.trk)
        sender = None
        parent, child = mp.get_context("spawn").Pipe()
        snapshots: list[tuple[float, bytes]] = []
        statuses: list[wire.Status] = []
        final: wire.Status | None = None
        status_topic = f"status.{DAEMON_ID}".encode()
        try:
            # The first heartbeat says the daemon is up and this subscription is in place.
            deadline = time.monotonic() + STARTUP_TIMEOUT_S
            while not statuses:
                if time.monotonic() > deadline or not daemon.alive():
                    raise RuntimeError("the daemon did not start: "
                                       + " | ".join(daemon.stderr_tail()))
                if sub.poll(100):
                    topic, payload = sub.recv_multipart()
                    if topic == status_topic:
                        msg = wire.decode(payload)
                        assert isinstance(msg, wire.Status)
                        statuses.append(msg)
            sender = mp.get_context("spawn").Process(
                target=sender_main, args=(load, daemon.det, child), daemon=True)
            sender.start()
            report: dict[str, Any] | None = None
            deadline = time.monotonic() + STARTUP_TIMEOUT_S + 2 * load.duration_s + 10
            done_at: float | None = None
            cpu_start: tuple[float, float | None] | None = None
            while time.monotonic() < deadline:
                if sub.poll(20):
                    while True:  # everything waiting, each stamped as it is taken
                        try:
                            topic, payload = sub.recv_multipart(zmq.NOBLOCK)
                        except zmq.Again:
                            break
                        w = time.time()
                        if topic == b"trk":
                            snapshots.append((w, payload))
                        elif topic == status_topic:
                            msg = wire.decode(payload)
                            assert isinstance(msg, wire.Status)
                            statuses.append(msg)
                if parent.poll():
                    kind, body = parent.recv()
                    if kind == "error":
                        raise RuntimeError(f"load generator: {body}")
                    if kind == "ready":
                        cpu_start = (time.monotonic(), cpu_seconds(daemon.pid))
                    if kind == "done":
                        report = body
                        cpu_end = cpu_seconds(daemon.pid)
                        if cpu_start is not None and cpu_start[1] is not None and cpu_end:
                            res.daemon_cpu = ((cpu_end - cpu_start[1])
                                              / max(time.monotonic() - cpu_start[0], 1e-9))
                        done_at = time.monotonic()
                        deadline = done_at + settings.lateness_s + DRAIN_TIMEOUT_S
                if report is not None and done_at is not None:
                    c = statuses[-1].counters
                    settled = (c.get("batches_fused", 0) + c.get("dropped_late", 0)
                               + c.get("dropped_future", 0) >= report["batches"]
                               and c.get("received", 0) >= report["batches"]
                               and statuses[-1].t > float(report["stamps"][-1]))
                    if settled:
                        # One more snapshot period (and a heartbeat) to catch the last picture.
                        deadline = min(deadline, time.monotonic() + 1.0 / settings.snapshot_hz
                                       + 0.3)
                        done_at = None
                if not daemon.alive():
                    raise RuntimeError("the daemon died: " + " | ".join(daemon.stderr_tail()))
        finally:
            if sender is not None:
                sender.join(timeout=10)
                if sender.is_alive():
                    sender.kill()
                    sender.join()
            # The daemon's last heartbeat ("down", after it flushed its queue and buffer).
            daemon.interrupt()
            until = time.monotonic() + 20
            while daemon.alive() and time.monotonic() < until:
                if sub.poll(50):
                    topic, payload = sub.recv_multipart()
                    if topic == status_topic:
                        msg = wire.decode(payload)
                        assert isinstance(msg, wire.Status)
                        if msg.state == "down":
                            final = msg
            code = daemon.stop()
            sub.close()
            ctx.term()
            res.stderr = [ln for ln in daemon.stderr_tail(20) if "cuas run:" not in ln]
            if code == -signal.SIGKILL:
                res.note += "the daemon did not stop within 40 s of SIGINT and was killed. "
            elif code not in (0, None):
                res.note += f"daemon exit code {code}. "
        if report is None:
            raise RuntimeError("the load generator reported nothing")
    if final is not None:
        res.fused_at_shutdown = int(final.counters.get("batches_fused", 0))
    return _analyse(res, report, statuses, snapshots, settings, load, warmup_s, max_lag_s)


def _analyse(res: RunResult, report: dict[str, Any], statuses: list[wire.Status],
             snapshots: list[tuple[float, bytes]], settings: DaemonSettings, load: Load,
             warmup_s: float, max_lag_s: float) -> RunResult:
    stamps: F64 = report["stamps"]
    counts: NDArray[np.int64] = report["counts"]
    res.sent_batches = int(report["batches"])
    res.sent_detections = int(report["detections"])
    res.achieved_rate = res.sent_detections / max(report["elapsed_s"], 1e-9)
    res.sender_max_slip_s = float(report["max_slip_s"])
    res.sender_cpu = float(report["cpu_s"]) / max(report["elapsed_s"], 1e-9)
    t_first, t_last = float(stamps[0]), float(stamps[-1])

    # The daemon's own account, from the last heartbeat before it was stopped.
    final = statuses[-1]
    res.counters = {k: int(v) for k, v in sorted(final.counters.items())
                    if not k.startswith(("sensor.", "stage."))}
    res.stages = stage_figures([st for st in statuses if t_first < st.t <= t_last + 1.0])
    res.losses = losses_of(res.counters, res.sent_batches, res.sent_detections)
    res.no_loss = not res.losses
    for st in statuses:
        if (st.t > t_last and st.counters.get("batches_fused", 0) >= res.sent_batches
                and res.caught_up_s is None):
            res.caught_up_s = st.t - t_last
    # How far behind the newest fused batch was at each heartbeat during the load.
    lags = []
    for st in statuses:
        fused = st.counters.get("batches_fused", 0)
        if t_first + 1.0 <= st.t <= t_last and 0 < fused <= len(stamps):
            lags.append(st.t - float(stamps[fused - 1]) - settings.lateness_s)
    res.max_lag_beyond_lateness_s = max(lags) if lags else None
    # No heartbeat at all during the load, or a silence between two, is a stalled daemon: it
    # cannot count as keeping pace (it used to, when no heartbeat gave a lag to check).
    during = [st.t for st in statuses if t_first <= st.t <= t_last]
    gaps = np.diff([t_first, *during, t_last]) if during else np.asarray([t_last - t_first])
    stalled = float(gaps.max(initial=0.0)) > MAX_HEARTBEAT_GAP_S
    kept_pace = (not stalled and (res.max_lag_beyond_lateness_s is None
                                  or res.max_lag_beyond_lateness_s <= max_lag_s))
    if stalled:
        res.note += f"no heartbeat for {float(gaps.max()):.1f} s during the load. "
    if res.caught_up_s is None:
        kept_pace = False

    res.snapshots = len(snapshots)
    if snapshots:
        seen: set[tuple[int, float]] = set()
        upd: list[float] = []
        arrivals = np.empty(len(snapshots))
        newest = np.empty(len(snapshots))
        t_cut = t_first + warmup_s
        for i, (w, payload) in enumerate(snapshots):
            msg = msgpack.unpackb(payload)
            top = -math.inf
            for tr in msg["tracks"]:
                tu = tr["t_update"]
                top = max(top, tu)
                key = (tr["id"], tu)
                if key not in seen:
                    seen.add(key)
                    if tu >= t_cut:
                        upd.append(w - tu)
            arrivals[i] = w
            newest[i] = top
        res.latency_updates_ms = percentiles(np.asarray(upd))
        # Every detection: first snapshot whose newest t_update reaches the batch's stamp.
        reach = np.maximum.accumulate(newest)
        idx = np.searchsorted(reach, stamps, side="left")
        use = (stamps >= t_cut) & (counts > 0)
        seen_b = use & (idx < len(arrivals))
        waits = arrivals[np.minimum(idx, len(arrivals) - 1)] - stamps
        res.latency_detections_ms = percentiles(waits[seen_b], counts[seen_b])
        unseen = int(counts[use & ~seen_b].sum())
        if unseen:
            res.note += f"{unseen} detections never showed in a snapshot. "

    lost_for_good = (res.fused_at_shutdown is not None
                     and res.fused_at_shutdown < res.sent_batches)
    if res.achieved_rate < SENDER_SHORTFALL * load.rate:
        res.verdict = "sender-limited"
        res.note += (f"the load generator reached only {res.achieved_rate:,.0f} det/s "
                     f"(fell {res.sender_max_slip_s:.2f} s behind). ")
    elif not res.no_loss and set(res.losses) <= BACKLOG_KEYS and not lost_for_good:
        res.verdict = "fell behind"
        res.note += (f"not drained {DRAIN_TIMEOUT_S:g} s after the last send (all fused by "
                     f"shutdown: {res.fused_at_shutdown == res.sent_batches}). ")
    elif not res.no_loss:
        res.verdict = "LOSS"
    elif not kept_pace:
        res.verdict = "fell behind"
    else:
        res.verdict = "ok"
    return res


def stage_figures(statuses: Sequence[wire.Status]) -> dict[str, dict[str, int]]:
    """Per stage of the daemon's timing counters over ``statuses`` (one window each): the
    samples, the median window's p50, the worst window's p99 and the largest max (us)."""
    out: dict[str, dict[str, int]] = {}
    for stage in STAGES:
        c = [st.counters for st in statuses if st.counters.get(f"stage.{stage}.n", 0)]
        if not c:
            continue
        out[stage] = {
            "n": sum(x[f"stage.{stage}.n"] for x in c),
            "p50_us": int(np.median([x.get(f"stage.{stage}.p50_us", 0) for x in c])),
            "p99_us": max(x.get(f"stage.{stage}.p99_us", 0) for x in c),
            "max_us": max(x.get(f"stage.{stage}.max_us", 0) for x in c)}
    return out


def stage_line(r: RunResult) -> str:
    """The daemon's per-stage timing of one run on one line (ms: median p50 / worst p99)."""
    parts = [f"{name} {v['p50_us'] / 1000:.1f}/{v['p99_us'] / 1000:.1f}"
             for name, v in r.stages.items()]
    return "      daemon stages, ms p50/p99: " + (", ".join(parts) if parts else "none reported")


# --------------------------------------------------------------------------- report


def fmt_ms(d: dict[str, float], key: str) -> str:
    v = d.get(key)
    if v is None:
        return "-"
    return f"{v:.1f}" if v < 100 else f"{v:.0f}"


def latency_lines(results: Sequence[RunResult]) -> list[str]:
    head = (f"{'det/s':>6} {'lateness_s':>10} {'snap_hz':>7} {'batches':>7} {'snaps':>6} | "
            f"{'track updates (ms)':^38} | {'every detection (ms)':^30} | loss")
    sub = (f"{'':>6} {'':>10} {'':>7} {'':>7} {'':>6} | {'n':>6} {'p50':>7} {'p90':>7} "
           f"{'p99':>7} {'max':>7} | {'p50':>7} {'p90':>7} {'p99':>7} {'max':>5} |")
    lines = [head, sub]
    for r in results:
        u, d = r.latency_updates_ms, r.latency_detections_ms
        loss = "none" if r.no_loss else ", ".join(f"{k}={v}" for k, v in r.losses.items())
        lines.append(
            f"{r.rate:>6,.0f} {r.settings['lateness_s']:>10g} {r.settings['snapshot_hz']:>7g} "
            f"{r.sent_batches:>7} {r.snapshots:>6} | {int(u.get('n', 0)):>6} "
            f"{fmt_ms(u, 'p50'):>7} {fmt_ms(u, 'p90'):>7} {fmt_ms(u, 'p99'):>7} "
            f"{fmt_ms(u, 'max'):>7} | {fmt_ms(d, 'p50'):>7} {fmt_ms(d, 'p90'):>7} "
            f"{fmt_ms(d, 'p99'):>7} {fmt_ms(d, 'max'):>5} | {loss}")
    return lines


def cpu_pair(r: RunResult) -> str:
    """Daemon / sender CPU while the load ran, in % of one core."""
    def pct(x: float | None) -> str:
        return "?" if x is None else f"{100 * x:.0f}%"
    return f"{pct(r.daemon_cpu)}/{pct(r.sender_cpu)}"


def throughput_lines(results: Sequence[RunResult]) -> list[str]:
    lines = [f"{'target':>7} {'achieved':>8} {'sent det':>9} {'batches':>7} {'received':>8} "
             f"{'fused':>7} {'det used':>9} {'dropped':>7} {'queue':>5} {'lag+':>6} "
             f"{'caught up':>9} {'CPU d/s':>9}  verdict"]
    for r in sorted(results, key=lambda r: r.rate):
        c = r.counters
        dropped = sum(v for k, v in c.items() if k.startswith("dropped_"))
        lag = r.max_lag_beyond_lateness_s
        cu = r.caught_up_s
        lines.append(
            f"{r.rate:>7,.0f} {r.achieved_rate:>8,.0f} {r.sent_detections:>9,} "
            f"{r.sent_batches:>7,} {c.get('received', 0):>8,} {c.get('batches_fused', 0):>7,} "
            f"{c.get('tracker_detections_used', 0):>9,} {dropped:>7,} "
            f"{c.get('queue_depth', 0):>5} {'-' if lag is None else f'{lag:.2f}':>6} "
            f"{'never' if cu is None else f'{cu:.1f} s':>9} {cpu_pair(r):>9}  {r.verdict}"
            + (f" ({', '.join(f'{k}={v}' for k, v in r.losses.items())})" if r.losses else ""))
    return lines


def environment() -> dict[str, Any]:
    """What was measured on: the cuas commit (and whether tracked files in cuas/ had local
    changes), versions, CPUs and load."""
    import importlib.metadata as md
    import platform

    def git(*cmd: str) -> str:
        try:
            return subprocess.run(["git", *cmd], cwd=ROOT, capture_output=True, text=True,
                                  timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    return {
        "cuas_commit": git("rev-parse", "--short", "HEAD"),
        "cuas_dirty": bool(git("status", "--porcelain", "--untracked-files=no", "--", "cuas")),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pyzmq": zmq.__version__,
        "libzmq": zmq.zmq_version(),
        "msgpack": md.version("msgpack"),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
    }


# --------------------------------------------------------------------------- profile


#: (file suffix, function, label) of the daemon's work, cumulative time per fused batch.
PROFILE_STAGES = (
    ("cuas/fusion/daemon.py", "_receive", "receive task (recv, decode, re-publish, queue)"),
    ("cuas/fusion/daemon.py", "parse_detection_frames",
     "  decode + validation (array entry point)"),
    ("cuas/fusion/admission.py", "admit", "  admission (topic, caps, sensor clock)"),
    ("cuas/fusion/daemon.py", "_recorder_frames", "  the recorder's copy (re-encoded)"),
    ("cuas/fusion/daemon.py", "_drain_queue", "fuse: queue to engine (reorder, tracker)"),
    ("cuas/fusion/engine.py", "process", "  FusionEngine.process"),
    ("cuas/fusion/measurements.py", "to_measurements", "    to_measurements"),
    ("cuas/tracking/tracker.py", "step", "    Tracker.step"),
    ("cuas/tracking/hypothesiser.py", "hypothesise", "      hypothesise (gating)"),
    ("cuas/tracking/associator.py", "gnn_assign", "      gnn_assign"),
    ("cuas/tracking/tracker.py", "_commit", "      _commit (updates)"),
    ("cuas/tracking/tracker.py", "_apply_life_cycle", "      _apply_life_cycle"),
    ("cuas/tracking/tracker.py", "_initiate", "      _initiate"),
    ("cuas/fusion/daemon.py", "_send_snapshot", "snapshot (build, encode, send)"),
    ("cuas/fusion/engine.py", "snapshot_columns", "  FusionEngine.snapshot_columns"),
    ("cuas/fusion/engine.py", "_classify", "    classification"),
    ("cuas/fusion/export.py", "track_columns", "    export to track columns"),
    ("cuas/wire/columns.py", "encode_track_columns", "  encode_track_columns"),
    ("cuas/wire/codec.py", "encode", "wire.encode (other published messages)"),
    ("cuas/fusion/daemon.py", "_status", "status heartbeat"),
)


def profile_lines(path: Path, batches: int, wall_s: float) -> list[str]:
    st = pstats.Stats(str(path))
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = st.stats  # type: ignore[attr-defined]
    idle = sum(v[2] for (fn, _l, f), v in raw.items() if "poll" in f and fn.startswith("~"))
    total = sum(v[2] for v in raw.values())
    per = max(batches, 1)
    lines = [f"cProfile of an in-process Daemon (cProfile overhead included): {total:.1f} s "
             f"profiled, of which {idle:.1f} s idle in the poller; {batches} batches fused; "
             f"{wall_s:.1f} s of load", f"  {'stage':<50} {'us/batch':>9} {'% busy':>7}"]
    busy = max(total - idle, 1e-9)
    for suffix, func, label in PROFILE_STAGES:
        ct = sum(v[3] for (fn, _l, f), v in raw.items() if fn.endswith(suffix) and f == func)
        lines.append(f"  {label:<50} {1e6 * ct / per:9.0f} {100 * ct / busy:6.1f}%")
    lines.append("  top functions by own time (us per fused batch):")
    leaves = sorted(raw.items(), key=lambda kv: kv[1][2], reverse=True)[:15]
    for (fname, line, func), (_cc, nc, tt, _ct, _callers) in leaves:
        where = f"{Path(fname).name}:{line}" if line else fname
        lines.append(f"    {1e6 * tt / per:8.0f}  {nc / per:7.1f} calls/batch  {func} ({where})")
    return lines


# --------------------------------------------------------------------------- modes


def print_run(r: RunResult) -> None:
    if r.mode == "latency":
        u = r.latency_updates_ms
        print(f"   {r.rate:>6,.0f} det/s, {r.settings['lateness_s']:g} s lateness, "
              f"{r.settings['snapshot_hz']:g} Hz snapshots: p50 {fmt_ms(u, 'p50')} ms, "
              f"p99 {fmt_ms(u, 'p99')} ms over {int(u.get('n', 0))} track updates; "
              f"CPU daemon/sender {cpu_pair(r)}; {r.verdict} {r.note}", flush=True)
    else:
        lag = r.max_lag_beyond_lateness_s
        print(f"   {r.rate:>7,.0f} det/s: sent {r.sent_detections:,} det in {r.sent_batches:,} "
              f"batches ({r.achieved_rate:,.0f} det/s), fused {r.counters.get('batches_fused', 0):,}"
              f", lag beyond lateness {'-' if lag is None else f'{lag:.2f} s'}, CPU daemon/sender "
              f"{cpu_pair(r)}: {r.verdict} "
              f"{r.note}", flush=True)
    print(stage_line(r), flush=True)
    for ln in r.stderr:
        print(f"      daemon: {ln}")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 3 s latency runs, throughput at 2k, 5k, 10k det/s for 3 s")
    ap.add_argument("--latency-rates", type=parse_rates, default=[100.0, 2000.0],
                    help="detections/s of the latency runs")
    ap.add_argument("--latency-duration", type=float, default=None,
                    help="seconds of load per latency run (default 10; --quick: 3)")
    ap.add_argument("--lateness", type=float, default=0.005,
                    help="lateness window (s) of the tuned latency runs; the daemon's defaults "
                         f"({DEFAULT_SETTINGS.label()}) are measured too")
    ap.add_argument("--snapshot-hz", type=float, default=1000.0,
                    help="snapshot rate of the tuned latency runs")
    ap.add_argument("--rates", type=parse_rates, default=None,
                    help="throughput steps, detections/s (default 2.5k,5k,10k,20k,40k; --quick: "
                         "2k,5k,10k); stops at the first step not sustained")
    ap.add_argument("--duration", type=float, default=None,
                    help="seconds of load per throughput step (default 8; --quick: 3)")
    ap.add_argument("--refine", type=int, default=None,
                    help="extra steps between the last rate sustained and the first not "
                         "(default 2; --quick: 0)")
    ap.add_argument("--max-lag", type=float, default=0.5,
                    help="a step is sustained only if the daemon never fell further behind "
                         "than the lateness window plus this (s)")
    ap.add_argument("--targets", type=int, default=8, help="targets every sensor sees")
    ap.add_argument("--clutter", type=float, default=1.5, help="mean false alarms per batch")
    ap.add_argument("--sensors", type=int, default=4,
                    help="radars the batches are spread over (round robin, own seq each)")
    ap.add_argument("--warmup", type=float, default=1.0,
                    help="latency samples from the first seconds of a run are not counted")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--attrs", action="store_true",
                    help="every plot carries attrs {snr_db} as real radars' plots do")
    ap.add_argument("--skip-latency", action="store_true")
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--profile", type=float, default=0.0, metavar="RATE",
                    help="also cProfile an in-process Daemon under a throughput step at RATE "
                         "det/s (daemon defaults) and print where its time goes")
    ap.add_argument("--profile-tuned", action="store_true",
                    help="profile with the tuned latency settings (--lateness, --snapshot-hz) "
                         "instead of the daemon defaults")
    ap.add_argument("--json", metavar="OUT", type=Path, help="also write the figures as JSON")
    args = ap.parse_args(argv)
    lat_dur = args.latency_duration or (3.0 if args.quick else 10.0)
    tp_dur = args.duration or (3.0 if args.quick else 8.0)
    rates = args.rates or ([2000.0, 5000.0, 10_000.0] if args.quick
                           else [2500.0, 5000.0, 10_000.0, 20_000.0, 40_000.0])
    refine = args.refine if args.refine is not None else (0 if args.quick else 2)
    if min(lat_dur, tp_dur) <= args.warmup:
        ap.error("durations must exceed --warmup")
    tuned = DaemonSettings(args.lateness, args.snapshot_hz)
    started = time.perf_counter()

    def load(rate: float, duration: float) -> Load:
        return Load(rate, duration, args.targets, args.clutter, args.sensors, args.seed,
                    args.attrs)

    env = environment()
    dirty = " (tracked files in cuas/ changed)" if env["cuas_dirty"] else ""
    print(f"cuas {env['cuas_commit']}{dirty}; Python {env['python']}, numpy {env['numpy']}, "
          f"pyzmq {env['pyzmq']} (libzmq {env['libzmq']}); {env['cpus']} CPUs, load average "
          + ", ".join(f"{x:.2f}" for x in env["load_average"]), flush=True)
    per_batch = args.targets * PD + args.clutter
    print(f"Load: {args.targets} targets (cuas.sim.generators random, ENU, sigma {SIGMA} m, Pd {PD}) plus "
          f"Poisson({args.clutter:g}) clutter per batch = ~{per_batch:.1f} detections/batch, "
          f"spread round robin over {args.sensors} sensors of kind radar"
          f"{' (every plot with attrs snr_db)' if args.attrs else ''}; each batch stamped "
          f"with the wall time at sending. Daemon, sender and this measuring process are "
          f"separate processes on 127.0.0.1.", flush=True)

    latency: list[RunResult] = []
    if not args.skip_latency:
        print(f"\nLatency ({lat_dur:g} s per run, first {args.warmup:g} s not counted):",
              flush=True)
        for settings in (tuned, DEFAULT_SETTINGS):
            for rate in args.latency_rates:
                r = run_once("latency", load(rate, lat_dur), settings, warmup_s=args.warmup,
                             max_lag_s=args.max_lag)
                latency.append(r)
                print_run(r)

    steps: list[RunResult] = []
    if not args.skip_throughput:
        print(f"\nThroughput ({tp_dur:g} s per step, daemon defaults: "
              f"{DEFAULT_SETTINGS.label()}):", flush=True)

        def step(rate: float) -> RunResult:
            r = run_once("throughput", load(rate, tp_dur), DEFAULT_SETTINGS,
                         warmup_s=args.warmup, max_lag_s=args.max_lag)
            steps.append(r)
            print_run(r)
            return r

        best = 0.0
        failed: float | None = None
        for rate in sorted(rates):
            r = step(rate)
            if r.verdict != "ok":
                failed = rate
                break
            best = rate
        for _ in range(refine if failed is not None else 0):
            assert failed is not None
            if steps[-1].verdict == "sender-limited":
                break
            rate = round(math.sqrt(best * failed) if best else failed / 2, -2)
            if rate in (best, failed) or rate <= 0:
                break
            if step(rate).verdict == "ok":
                best = rate
            else:
                failed = rate

    profile: list[str] = []
    if args.profile > 0:
        prof_settings = tuned if args.profile_tuned else DEFAULT_SETTINGS
        print(f"\nProfiling an in-process Daemon at {args.profile:,.0f} det/s "
              f"({prof_settings.label()}) ...", flush=True)
        with tempfile.TemporaryDirectory(prefix="cuas-prof-") as tmp:
            out = Path(tmp) / "daemon.prof"
            r = run_once("throughput", load(args.profile, tp_dur), prof_settings,
                         warmup_s=args.warmup, max_lag_s=args.max_lag, profile_out=out)
            print_run(r)
            if out.exists():
                profile = profile_lines(out, r.counters.get("batches_fused", 0), tp_dur)
            else:
                profile = ["no profile: the profiled daemon wrote none"]
        print("\n".join(profile), flush=True)

    # ------------------------------------------------------------------ summary
    verdicts: list[str] = []
    lat_table: list[str] = []
    tp_table: list[str] = []
    if latency:
        print("\nDetection-to-track latency: track updates = w - t_update for each (track, "
              "t_update) first seen in a snapshot received at w; every detection = each batch's "
              "wait until the first snapshot that includes it, weighted by its detections.\n")
        lat_table = latency_lines(latency)
        print("\n".join(lat_table))
        at = [r for r in latency if r.rate == TARGET_P99_RATE and r.settings["lateness_s"]
              == tuned.lateness_s and r.settings["snapshot_hz"] == tuned.snapshot_hz]
        for r in at:
            p99 = r.latency_updates_ms.get("p99", math.inf)
            ok = p99 < TARGET_P99_MS and r.no_loss
            verdicts.append(f"p99 latency at {TARGET_P99_RATE:,.0f} det/s ({tuned.label()}): "
                            f"{p99:.1f} ms over {r.latency_updates_ms.get('n', 0)} track updates "
                            f"[{'PASS' if ok else 'FAIL'} < {TARGET_P99_MS:g} ms]"
                            + ("" if r.no_loss else " (with loss)"))
        for r in latency:
            if r.rate == TARGET_P99_RATE and r.settings["lateness_s"] == DEFAULT_SETTINGS.lateness_s:
                verdicts.append(f"  with the daemon defaults ({DEFAULT_SETTINGS.label()}): p99 "
                                f"{fmt_ms(r.latency_updates_ms, 'p99')} ms")
    if steps:
        print(f"\nThroughput: target and achieved detections/s; received/fused are the daemon's "
              f"status counters (batches); 'lag+' = largest lag of the newest fused batch behind "
              f"the wall clock beyond the {DEFAULT_SETTINGS.lateness_s:g} s lateness window at "
              f"the heartbeats during the load (s); 'caught up' = last send to the first "
              f"heartbeat showing every batch fused; 'CPU d/s' = daemon/sender CPU time over "
              f"the load, in % of one core.\n")
        tp_table = throughput_lines(steps)
        print("\n".join(tp_table))
        sustained = max((r.rate for r in steps if r.verdict == "ok"), default=0.0)
        ok = sustained >= TARGET_SUSTAINED_DPS
        verdicts.insert(0, f"sustained with no loss: {sustained:,.0f} det/s at "
                           f"~{per_batch:.1f} detections/batch ({DEFAULT_SETTINGS.label()}) "
                           f"[{'PASS' if ok else 'FAIL'} >= {TARGET_SUSTAINED_DPS:,.0f}]")
    if verdicts:
        print("\nTargets:")
        for v in verdicts:
            print(f"  {v}")
    print(f"\n(total wall time {time.perf_counter() - started:.0f} s; load average now "
          + ", ".join(f"{x:.2f}" for x in os.getloadavg()) + ")")

    if args.json:
        out_doc = {
            "environment": env,
            "load": {"targets": args.targets, "clutter_per_batch": args.clutter,
                     "sensors": args.sensors, "seed": args.seed,
                     "detections_per_batch": per_batch},
            "latency": [asdict(r) for r in latency],
            "throughput": [asdict(r) for r in steps],
            "latency_table": lat_table,
            "throughput_table": tp_table,
            "verdicts": verdicts,
            "profile": profile,
        }
        args.json.write_text(json.dumps(out_doc, indent=2, default=float))
        print(f"wrote {args.json}")
    return 0


def parse_rates(text: str) -> list[float]:
    try:
        rates = [float(s.strip().lower().replace("_", "").replace("k", "e3"))
                 for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated rates, got {text!r}") from None
    if not rates or min(rates) <= 0:
        raise argparse.ArgumentTypeError("rates must be positive")
    return rates


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
