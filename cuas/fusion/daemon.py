"""The live fusion daemon: detections in on ZeroMQ, tracks, alerts and status out.

Tasks on one asyncio loop:

* the receiver reads the detection endpoint, validates each message once, keeps per-sensor
  health (last seen, sequence gaps) and puts batches on a bounded queue that drops its oldest
  entry, counted and logged, rather than grow with a backlog;
* the fuser moves batches into the fusion engine (reorder buffer, tracker, classifier);
* the publisher sends ``tracks`` snapshots at the configured rate (and right after an alert),
  ``status`` heartbeats every second, and re-publishes every accepted detections payload
  byte-for-byte on the track endpoint so that a recorder there captures the whole picture.

A malformed message is a counted, rate-limited log line, never an exception that escapes.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import gc
import logging
import signal
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import zmq
import zmq.asyncio

from cuas import bus, wire
from cuas.classify import AlertEvent
from cuas.config import Config
from cuas.errors import ConfigError, DecodeError
from cuas.fusion.admission import Admission, RateLimitedLog, SensorHealth
from cuas.fusion.engine import FusionEngine
from cuas.fusion.export import alert_message, fit_columns
from cuas.fusion.merge import mergeable
from cuas.fusion.timing import StageTimes
from cuas.sdnotify import Notifier
from cuas.tracking import StepResult
from cuas.tracking.reorder import ReorderBuffer
from cuas.wire.arrays import (
    ArrayDetections,
    decode_detections,
    encode_array_detections,
    n_detections,
)

log = logging.getLogger(__name__)
#: Payloads larger than this (bytes) are decoded off the event loop (a radar scan of a few
#: hundred plots is well below it).
DECODE_IN_THREAD_BYTES = 256 * 1024
#: Most queued messages (and their detections) pushed into the reorder buffer before what it
#: released is fused: small enough to keep the loop responsive, large enough that a flood of
#: single-detection messages shares tracker steps.
DRAIN_GROUP = 64
DRAIN_GROUP_DETECTIONS = 4_096

@dataclass
class DaemonState:
    """Counters and health, shared by the tasks (one event loop, so no locks)."""

    counters: Counter[str] = field(default_factory=Counter)
    sensors: dict[str, SensorHealth] = field(default_factory=collections.OrderedDict)
    started: float = field(default_factory=time.time)


#: Largest share of the event loop snapshots may take (see ``_publish_snapshots``) while
#: batches wait in the queue, and while none do (nothing to starve: latency matters then).
SNAPSHOT_DUTY = 0.25
SNAPSHOT_DUTY_IDLE = 0.5


class Daemon:
    """The fusion daemon on one asyncio loop. ``await daemon.run(stop)`` until ``stop`` is set."""

    def __init__(self, config: Config, endpoints: bus.Endpoints, *,
                 snapshot_hz: float | None = None, status_period_s: float = 1.0,
                 queue_size: int | None = None, clock: Callable[[], float] = time.time,
                 notifier: Notifier | None = None, replay: bool | None = None) -> None:
        """``snapshot_hz``, ``queue_size`` and ``replay`` (keep time by the stream, for a
        recording of the past played into the daemon) default to the configuration's
        ``[daemon]``; no message can switch replay on.
        ``[bus]`` says whether both endpoints require CURVE (keys read here, so a bad key file
        fails at once). ``notifier``: systemd notifications (default: ``$NOTIFY_SOCKET``)."""
        self.config = config
        self.endpoints = endpoints
        self.snapshot_hz = snapshot_hz if snapshot_hz is not None else config.daemon.snapshot_hz
        if not self.snapshot_hz > 0:
            raise ValueError("snapshot_hz must be > 0")
        self.status_period_s = status_period_s
        self.clock = clock
        self.state = DaemonState()
        self.security = bus.security(config)
        if self.security is not None and self.security.allowed_clients is None:
            raise ConfigError("the daemon needs allowed_clients, the directory of the client "
                              "public keys it accepts", path=config.path,
                              key="bus.allowed_clients")
        if self.security is not None:
            self.state.counters["auth_rejected"] = 0
        self.notifier = notifier if notifier is not None else Notifier()
        self.engine = FusionEngine(config, clock=self._stream_clock, on_fused=self._fused,
                                   merge_window_s=config.daemon.merge_window_s)
        self._merging = config.daemon.merge_window_s > 0.0
        self._queue: collections.deque[wire.Detections] = collections.deque()
        self._queue_size = queue_size if queue_size is not None else config.daemon.queue_size
        self._wake = asyncio.Event()
        self._snapshot_now = asyncio.Event()
        self._alerted = False
        self._auth: bus.BusAuth | None = None
        self._rlog = RateLimitedLog(log)
        self._seq = Counter[str]()
        self._pub: zmq.asyncio.Socket | None = None
        self._last_arrival = time.monotonic()
        self._replay_mode = config.daemon.replay if replay is None else replay
        self.admission = Admission(config, self.state.counters, self.state.sensors, self._rlog,
                                   replay=self._replay_mode)
        self.ready = asyncio.Event()
        self.bound = endpoints
        #: Per-stage durations since the last heartbeat (reported in its counters).
        self.stages = StageTimes()
        # Each queued batch's arrival (monotonic s), by object id, for the `hold` stage; and
        # when the engine's current step began, for the `step` stage.
        self._arrived: collections.OrderedDict[int, float] = collections.OrderedDict()
        self._step_began = 0.0
        self._gc_began = 0.0

    @property
    def buffer(self) -> ReorderBuffer[wire.Detections]:
        """The engine's reorder buffer (what it holds is part of the daemon's backlog)."""
        return self.engine.buffer

    # ------------------------------------------------------------------ time

    def _stream_clock(self) -> float | None:
        """Live, the wall clock; in replay mode, None: the reorder buffer then keeps time by
        the newest batch it has seen."""
        return None if self._replay_mode else self.clock()

    def now(self) -> float:
        """The time snapshots are predicted to (UTC s): the wall clock live, the time of the
        last fused batch in a replay."""
        fused = self.engine.time
        if self._replay_mode and fused is not None:
            return fused
        wall = self.clock()
        return max(wall, fused) if fused is not None else wall

    # ------------------------------------------------------------------ run

    async def run(self, stop: asyncio.Event) -> DaemonState:
        """Bind, serve until ``stop`` is set, then flush what is owed and close."""
        ctx = zmq.asyncio.Context()
        keys = self.security
        auth = self._auth = bus.start_authenticator(ctx, keys) if keys is not None else None
        sub = bus.sub_socket(ctx, self.endpoints.detections, bind=True,
                             topics=("det.", "status.", "ack"), security=keys)
        self._pub = bus.pub_socket(ctx, self.endpoints.tracks, bind=True, security=keys)
        # CURVE refusals are silent in ZeroMQ: the monitors count them into `auth_rejected`.
        # So is a producer cut off for a message over bus.MAX_FRAME_BYTES: the detection
        # endpoint's closed connections are counted into `producers_disconnected`.
        self.state.counters["producers_disconnected"] += 0
        monitors = [bus.monitor_task(sub, self.state.counters, rejections=keys is not None,
                                     disconnects="producers_disconnected")]
        if keys is not None:
            monitors.append(bus.monitor_task(self._pub, self.state.counters))
        # What was really bound (a port of 0 or * in the config becomes a real one).
        self.bound = bus.Endpoints(sub.getsockopt_string(zmq.LAST_ENDPOINT),
                                   self._pub.getsockopt_string(zmq.LAST_ENDPOINT))
        log.info("listening for detections on %s, publishing tracks on %s",
                 self.bound.detections, self.bound.tracks)
        self.ready.set()
        self.notifier.ready(f"detections on {self.bound.detections}, tracks on "
                            f"{self.bound.tracks}")
        # The watchdog is fed from this loop: a hung loop stops feeding it and systemd
        # restarts the daemon.
        watchdog = asyncio.create_task(self.notifier.keep_alive(), name="watchdog")
        gc.callbacks.append(self._time_gc)
        tasks = [
            asyncio.create_task(self._receive(sub, self._pub), name="receive"),
            asyncio.create_task(self._fuse(), name="fuse"),
            asyncio.create_task(self._publish_snapshots(), name="snapshots"),
            asyncio.create_task(self._publish_status(), name="status"),
        ]
        try:
            stopped = asyncio.create_task(stop.wait())
            done, _ = await asyncio.wait([stopped, *tasks], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not stopped and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
            stopped.cancel()
        finally:
            gc.callbacks.remove(self._time_gc)
            self.notifier.stopping()
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            # Flush what is owed: queued and buffered batches, the final picture, a last status.
            self._drain_queue()
            self._step_began = time.monotonic()
            self.engine.flush()
            await self._send_snapshot()
            await self._publish_alerts()
            await self._send(self._status("down"))
            watchdog.cancel()
            for task in monitors:
                task.cancel()
            for task in (watchdog, *monitors):
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if auth is not None:
                auth.stop()
            sub.close(0)
            self._pub.close(linger=1000)
            ctx.term()
        return self.state

    def _time_gc(self, phase: str, info: dict[str, int]) -> None:
        """gc callback: time collections of the oldest generation (stage ``gc``)."""
        if info.get("generation") == 2:
            if phase == "start":
                self._gc_began = time.perf_counter()
            else:
                self.stages.add("gc", time.perf_counter() - self._gc_began)

    # ------------------------------------------------------------------ receive

    async def _receive(self, sub: zmq.asyncio.Socket, pub: zmq.asyncio.Socket) -> None:
        counters = self.state.counters
        producers = self._auth.producers if self._auth is not None else None
        while True:
            if producers is None:
                parts = await sub.recv_multipart(copy=True)
            else:
                # ZeroMQ checks a CURVE key once, at the handshake: a key revoked since (SIGHUP)
                # would keep its open connection. Each message carries the key it came with
                # (ZAP's User-Id), checked against the allow list as it is now.
                held = await sub.recv_multipart(copy=False)
                user = str(held[0].get("User-Id"))
                parts = [f.bytes for f in held]
                if user.encode() not in producers.keys:
                    counters["received"] += 1
                    counters["dropped_revoked_key"] += 1
                    self._rlog.warning("revoked", "dropped a message from CURVE key %s, no "
                                       "longer on the producers' allow list", user)
                    continue
            counters["received"] += 1
            began = self._last_arrival = time.monotonic()
            size = sum(len(p) for p in parts)
            counters["received_bytes"] += size
            try:
                if size > DECODE_IN_THREAD_BYTES:
                    # Decoding and validating 20,000 detections is pure Python for a second on
                    # a loaded machine: in a thread (the interpreter switches every few ms), the
                    # loop goes on feeding the watchdog and sending heartbeats meanwhile, and
                    # awaiting it here keeps the messages in order.
                    topic, msg = await asyncio.to_thread(parse_detection_frames, parts)
                else:
                    topic, msg = parse_detection_frames(parts)
            except DecodeError as exc:
                counters["dropped_malformed"] += 1
                self._rlog.warning("malformed", "dropped a malformed message (%d bytes): %s",
                                   size, exc)
                continue
            if isinstance(msg, wire.Ack) and topic == "ack":
                # An operator's acknowledgement from a console, a producer the endpoint admitted
                # (under CURVE, one on the producers' allow list): republished on the track
                # endpoint so that recorders keep it with the alerts.
                counters["acks_received"] += 1
                try:
                    pub.send_multipart(bus.frames(msg), flags=zmq.NOBLOCK)
                except zmq.ZMQError:
                    counters["republish_errors"] += 1
                continue
            if isinstance(msg, wire.Status):
                # Health comes from detections only: a forged "ok" must not hide a silent sensor.
                counters["status_received"] += 1
                continue
            if not isinstance(msg, wire.Detections):
                counters["dropped_wrong_type"] += 1
                self._rlog.warning("type", "dropped a %s message on the detection endpoint",
                                   msg.type)
                continue
            admitted = self.admission.admit(topic, msg, self.clock(), size)
            if admitted is None:
                continue
            msg = admitted
            # The recorder's copy, before any queue can drop it: re-encoded from the validated
            # message, so fields the contract does not know (junk) are not recorded.
            copy = (await asyncio.to_thread(_recorder_frames, msg) if size > DECODE_IN_THREAD_BYTES
                    else _recorder_frames(msg))
            try:
                pub.send_multipart(copy, flags=zmq.NOBLOCK)
            except zmq.ZMQError:
                counters["republish_errors"] += 1
            if len(self._queue) >= self._queue_size:
                self._queue.popleft()
                counters["dropped_overflow"] += 1
                self._rlog.warning("overflow", "detection queue full (%d): dropped the oldest "
                                   "batch", self._queue_size)
            self._queue.append(msg)
            self._arrived[id(msg)] = began
            if len(self._arrived) > self._queue_size + self.buffer.max_items:
                self._arrived.popitem(last=False)  # batches the buffer dropped as late
            stages = self.stages
            if not self._replay_mode:
                stages.add("age_received", self.clock() - msg.t)
            stages.add("receive", time.monotonic() - began)
            self._wake.set()
            if counters["received"] % 64 == 0:
                await asyncio.sleep(0)  # let the fuser run during a flood

    # ------------------------------------------------------------------ fuse

    def _drain_queue(self, limit: int | None = None, budget_s: float | None = None) -> None:
        """Move up to ``limit`` queued batches (all by default) into the reorder buffer and
        fuse whatever it releases, stopping early once ``budget_s`` of work is spent (so a
        run of huge batches gives the loop back between them). Consecutive messages of
        cooperative feeds are pushed in groups of up to ``DRAIN_GROUP`` messages (at most
        ``DRAIN_GROUP_DETECTIONS`` detections) and what a group releases is fused together,
        so that they can share one tracker step (``daemon.merge_window_s``); any other
        message is pushed on its own, the budget checked after each (a group of 64 radar
        scans fused in one go held the loop, and the heartbeats, for a second)."""
        n = 0
        start = time.monotonic()
        queue = self._queue
        while queue and (limit is None or n < limit):
            group = [queue.popleft()]
            size = n_detections(group[0])
            grouping = self._merging and mergeable(group[0].kind)
            while (grouping and queue and len(group) < DRAIN_GROUP
                   and (limit is None or n + len(group) < limit)
                   and mergeable(queue[0].kind)
                   and size + n_detections(queue[0]) <= DRAIN_GROUP_DETECTIONS):
                size += n_detections(queue[0])
                group.append(queue.popleft())
            self._step_began = time.monotonic()
            self.engine.push_all(group, backlog=bool(queue))
            n += len(group)
            if budget_s is not None and time.monotonic() - start > budget_s:
                break

    def _fused(self, batch: wire.Detections, result: StepResult) -> None:
        """The engine fused ``batch``: count it, time it, and have the picture published
        soon."""
        now = time.monotonic()
        wall = self.clock()
        stages = self.stages
        parts = self.engine.fused_parts or (batch,)
        for part in parts:  # a merged batch stands for several messages
            arrived = self._arrived.pop(id(part), None)
            if arrived is not None:
                stages.add("hold", max(0.0, self._step_began - arrived))
            if not self._replay_mode:
                stages.add("age_fused", wall - part.t)
        stages.add("step", now - self._step_began)
        self._step_began = now  # the engine's next batch (if any) begins now
        if result.accepted:
            self.state.counters["batches_fused"] += len(parts)
            self._snapshot_now.set()
        else:
            self.state.counters["dropped_late"] += len(parts)

    def _size_window(self) -> float:
        """Live with ``daemon.adaptive_lateness``: set the reorder window from the sensors'
        measured delivery delays (at most ``tracker.lateness_s``); returns the window (s)."""
        cap = self.config.tracker.lateness_s
        if self._replay_mode or not self.config.daemon.adaptive_lateness:
            return cap
        window = self.admission.clocks.latency_window(self.clock(), cap)
        self.engine.buffer.lateness_s = window
        return window

    async def _fuse(self) -> None:
        while True:
            window = self._size_window()
            # Sleep until the oldest held batch is due (or a new one arrives), so a batch is
            # fused as soon as its window has passed, not on the next coarse tick.
            tick = max(0.001, min(0.1, window / 2))
            due = self.engine.buffer.due_in()
            await _wait_event(self._wake, tick if due is None else max(0.0005, min(tick, due)))
            self._wake.clear()
            while self._queue:
                self._drain_queue(limit=DRAIN_GROUP, budget_s=0.05)
                await asyncio.sleep(0)  # snapshots and heartbeats go on during a flood
            self._step_began = time.monotonic()
            self.engine.release()
            # Tracks expire on this timer too (live): silence must not keep them alive.
            if (not self._replay_mode and self.engine.time is not None
                    and self.engine.expire(self.clock() - window)):
                self._snapshot_now.set()
            idle = time.monotonic() - self._last_arrival
            if self._replay_mode and len(self.engine.buffer) and idle > max(0.2, 2 * tick):
                # A replay that paused or ended: its own clock has stopped, so release.
                self._step_began = time.monotonic()
                self.engine.flush()
            await asyncio.sleep(0)

    # ------------------------------------------------------------------ publish

    def _next_seq(self, stream: str) -> int:
        seq = self._seq[stream]
        self._seq[stream] += 1
        return seq

    async def _send_snapshot(self) -> None:
        """Publish a ``tracks`` snapshot at :meth:`now`, encoded from columns (no per-track
        object) and kept within the contract's payload limit (lowest threats left out)."""
        began = time.monotonic()
        t, cols = self.engine.snapshot_columns(self.now())
        payload, left_out = fit_columns(cols, self.config.daemon_id, self._next_seq("trk"), t)
        self.stages.add("snapshot", time.monotonic() - began)
        if left_out:
            self.state.counters["snapshots_truncated"] += 1
            self.state.counters["tracks_left_out"] += left_out
            self._rlog.warning("truncated", "snapshot over %d bytes: left out %d of %d tracks "
                               "(lowest threats)", wire.MAX_PAYLOAD_BYTES, left_out, len(cols))
        await self._send_frames("tracks", [b"trk", payload])

    async def _send(self, msg: wire.Message) -> None:
        await self._send_frames(msg.type, bus.frames(msg))

    async def _send_frames(self, mtype: str, frames: list[bytes]) -> None:
        if self._pub is None:
            return
        try:
            began = time.monotonic()
            await self._pub.send_multipart(frames)
            self.stages.add("publish", time.monotonic() - began)
            self.state.counters[f"published_{mtype}"] += 1
        except zmq.ZMQError as exc:
            self.state.counters["publish_errors"] += 1
            self._rlog.warning("publish", "could not publish %s: %s", mtype, exc)

    async def _publish_snapshots(self) -> None:
        """A snapshot soon after the picture changes, at most ``snapshot_hz`` times a second,
        and at least every ``max(1 / snapshot_hz, 0.5)`` s (a late joiner needs no more).
        Snapshots also keep ``SNAPSHOT_DUTY`` of the loop at most (``SNAPSHOT_DUTY_IDLE``
        when no batch is queued): after one that took d seconds the next waits at least
        d / duty (10,000 tracks must not starve the fuser at a high rate)."""
        period = 1.0 / self.snapshot_hz
        # Unchanged pictures are repeated for late joiners only every half second or so,
        # however high the rate for changes is set.
        keepalive = max(period, 0.5)
        last = 0.0
        cost = 0.0
        while True:
            await _wait_event(self._snapshot_now, keepalive)
            duty = SNAPSHOT_DUTY if self._queue else SNAPSHOT_DUTY_IDLE
            wait = last + max(period, cost / duty) - time.monotonic()
            if wait > 0 and not self._alerted:
                await asyncio.sleep(wait)
            self._snapshot_now.clear()
            self._alerted = False
            if self.engine.time is None and not self.engine.n_tracks:
                continue  # nothing fused yet: an empty picture at an unknown time says nothing
            last = time.monotonic()
            await self._send_snapshot()
            cost = time.monotonic() - last
            await self._publish_alerts()

    async def _publish_alerts(self) -> None:
        """Publish what the classifier raised while building the last snapshot: one alert per
        track per level rise or zone entered (the classifier's hysteresis keeps it so)."""
        for event in self.engine.take_alerts():
            self.state.counters["alerts"] += 1
            await self.publish_alert(event)

    async def publish_alert(self, event: AlertEvent) -> None:
        """Publish an ``alert`` and, right after it, a fresh ``tracks`` snapshot."""
        await self._send(alert_message(event, self.config.daemon_id, self._next_seq("alert"),
                                       self.now()))
        self._alerted = True
        self._snapshot_now.set()

    def _status(self, state: str | None = None) -> wire.Status:
        counters: dict[str, int] = dict(self.state.counters)
        reorder = self.engine.buffer.counters
        for name, value in self.engine.counters.items():
            counters[f"tracker_{name}"] = value
        for name, value in reorder.items():
            counters[f"reorder_{name}"] = value
        counters["dropped_late"] = counters.get("dropped_late", 0) + reorder["dropped_late"]
        counters["dropped_future"] = reorder["dropped_future"]
        counters["queue_depth"] = len(self._queue)
        counters["tracks"] = self.engine.n_tracks
        counters.update(self.stages.report())
        wall = self.clock()
        last_seen: dict[str, float] = {}
        quarantined = False
        for sensor, health in self.state.sensors.items():
            counters[f"sensor.{sensor}.received"] = health.received
            counters[f"sensor.{sensor}.seq_gaps"] = health.seq_gaps
            counters[f"sensor.{sensor}.dropped"] = health.dropped
            counters[f"sensor.{sensor}.clock_offset_ms_abs"] = round(abs(health.clock_offset_s) * 1000)
            counters[f"sensor.{sensor}.quarantined"] = int(health.quarantined)
            quarantined |= health.quarantined
            last_seen[sensor] = health.last_seen
        stale = quarantined or any(wall - seen > 10.0 for seen in last_seen.values())
        # `t` is the daemon's own notion of now: the stream's time while replaying the past,
        # so that a console compares it with the snapshots' times, not with the wall clock.
        return wire.Status(
            src=self.config.daemon_id, seq=self._next_seq("status"), t=self.now(),
            state=state or ("degraded" if stale else "ok"),
            uptime_s=max(0.0, wall - self.state.started), counters=counters, last_seen=last_seen,
        )

    async def _publish_status(self) -> None:
        while True:
            status = self._status()
            await self._send(status)
            if self.notifier.enabled:
                c = status.counters
                self.notifier.status(f"{status.state}: {c['tracks']} tracks, {c.get('received', 0)}"
                                     f" received, {c.get('dropped_overflow', 0)} dropped on "
                                     f"overflow, {c.get('auth_rejected', 0)} refused")
            await asyncio.sleep(self.status_period_s)


def parse_detection_frames(parts: Sequence[bytes]) -> tuple[str, wire.Message]:
    """:func:`cuas.bus.parse_frames` through the array entry point
    (:func:`cuas.wire.arrays.decode_detections`): a plain radar scan becomes columns, not
    one object per plot; everything else, and every refusal, is exactly ``parse_frames``'s."""
    if len(parts) != 2:
        return bus.parse_frames(parts)  # its error
    try:
        topic = bytes(parts[0]).decode("utf-8")
    except UnicodeDecodeError:
        return bus.parse_frames(parts)
    return topic, decode_detections(bytes(parts[1]))


def _recorder_frames(msg: wire.Detections) -> list[bytes]:
    """``bus.frames(msg)``, encoded from the columns for an array message (same bytes)."""
    if isinstance(msg, ArrayDetections):
        return [wire.topic_for(msg).encode(), encode_array_detections(msg)]
    return bus.frames(msg)


def warm_up(config: Config, n_scans: int = 24) -> float:
    """Run a scratch fusion engine over a few seconds of made-up scans (two targets 4 m apart,
    one crossing, ENU) and return how long it took (s).

    The tracker and the classifier load parts of scipy (and compile whatever they compile)
    the first time a path is taken: seconds on a small box. Paid at start-up, before the
    sockets are bound, that is not a stall of the live loop with every batch queued behind
    it (a 3 s one showed as the p99 latency in ``benchmarks/bench_daemon.py``). :func:`serve`
    (``cuas run``) calls it once per process, before the daemon binds.
    """
    began = time.monotonic()
    engine = FusionEngine(config)
    t0 = time.time() - n_scans - 10.0
    for k in range(n_scans):
        t = t0 + k
        pts = ((100.0 + 10.0 * k, 200.0, 50.0), (104.0 + 10.0 * k, 200.0, 50.0),
               (600.0 - 15.0 * k, 150.0 + 5.0 * k, 80.0))
        engine.process(wire.Detections(
            src="warm-up", seq=k, t=t, sensor="warm-up", kind="radar",
            dets=tuple(wire.Detection(frame="enu", z=p, R=(25.0, 0.0, 0.0, 0.0, 25.0, 0.0, 0.0,
                                                           0.0, 64.0), sigma=(5.0, 5.0, 8.0))
                       for p in pts)))
        engine.snapshot(t)
    return time.monotonic() - began


def settle_heap() -> None:
    """Collect, then freeze every object alive now (modules, the warmed-up kernels) out of
    the cyclic garbage collector's view: a collection of its oldest generation walked them
    all, some 135,000 objects, stopping the loop for 50-140 ms now and then (the latency's
    tail). What the daemon allocates from here on is collected as before."""
    gc.collect()
    gc.freeze()


async def _wait_event(event: asyncio.Event, timeout_s: float) -> None:
    """Wait for ``event`` at most ``timeout_s``. Not ``asyncio.wait_for``: on Python 3.11 it
    swallows a cancellation that arrives as the event is set, and a task so spared keeps the
    daemon from ever shutting down. ``asyncio.timeout`` propagates it."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout_s):
            await event.wait()


async def serve(config: Config, endpoints: bus.Endpoints, *,
                snapshot_hz: float | None = None, replay: bool | None = None) -> DaemonState:
    """Run a daemon until SIGINT or SIGTERM; returns its final counters. ``replay``: see
    :class:`Daemon`."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    took = warm_up(config)
    settle_heap()
    log.debug("warmed up in %.2f s", took)
    daemon = Daemon(config, endpoints, snapshot_hz=snapshot_hz, replay=replay)
    try:
        return await daemon.run(stop)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
