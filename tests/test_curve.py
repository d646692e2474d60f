"""CURVE on the bus: real daemon, real ZeroMQ sockets on 127.0.0.1, keys made by `cuas keys`."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
from pathlib import Path

import pytest
import zmq
import zmq.asyncio

from cuas import bus, wire
from cuas.cli.keys import generate
from cuas.cli.main import main as cli_main
from cuas.config import BusConfig, Config, SiteConfig, load_config
from cuas.errors import ConfigError
from cuas.fusion.daemon import Daemon
from cuas.sim.generators import SimParams, simulate

LOOPBACK = bus.Endpoints("tcp://127.0.0.1:*", "tcp://127.0.0.1:*")


def _site(tmp_path: Path) -> tuple[Config, Path]:
    """A config whose daemon accepts the `sensor` and `console` keys (not `intruder`)."""
    keys = tmp_path / "keys"
    allowed = tmp_path / "allowed"
    assert cli_main(["keys", "daemon", "--dir", str(keys)]) == 0
    assert cli_main(["keys", "sensor", "console", "--dir", str(keys), "--allow", str(allowed)]) == 0
    generate("intruder", keys)
    cfg = tmp_path / "site.toml"
    cfg.write_text(
        '[bus]\nsecurity = "curve"\ndetections = "tcp://127.0.0.1:5550"\n'
        'server_secret_key = "keys/daemon.key_secret"\nserver_public_key = "keys/daemon.key"\n'
        'allowed_clients = "allowed"\n')
    return load_config(cfg), keys


def _client(config: Config, keys: Path, name: str) -> bus.CurveKeys:
    """The CURVE keys a client `name` would load from its own config (relative paths)."""
    client = dataclasses.replace(config.bus, server_secret_key=None, allowed_clients=None,
                                 client_secret_key=str(keys / f"{name}.key_secret"))
    found = bus.security(dataclasses.replace(config, bus=client))
    assert found is not None and found.server_secret is None
    return found


def _batches() -> list[wire.Detections]:
    sim = simulate(SimParams(seed=3, n_targets=2, duration_s=8, clutter_per_scan=0.0,
                             churn_fraction=0.0, pd=1.0), SiteConfig())
    return list(sim.batches)


async def _collect(sock: zmq.asyncio.Socket, seconds: float) -> list[wire.Message]:
    got: list[wire.Message] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (left := deadline - loop.time()) > 0:
        if await sock.poll(timeout=max(1, int(left * 1000))):
            got.append(bus.parse_frames(await sock.recv_multipart())[1])
    return got


def test_allowed_clients_work_and_an_unknown_key_gets_nothing_and_is_counted(
        tmp_path: Path) -> None:
    config, keys = _site(tmp_path)
    sensor_keys = _client(config, keys, "sensor")
    console_keys = _client(config, keys, "console")
    intruder_keys = _client(config, keys, "intruder")
    batches = _batches()

    async def main() -> None:
        daemon = Daemon(config, LOOPBACK, snapshot_hz=20.0, status_period_s=0.2, replay=True)
        stop = asyncio.Event()
        task = asyncio.create_task(daemon.run(stop))
        await asyncio.wait_for(daemon.ready.wait(), 5)
        ctx = zmq.asyncio.Context()
        try:
            ends = daemon.bound
            sensor = bus.xpub_socket(ctx, ends.detections, security=sensor_keys)
            console = bus.sub_socket(ctx, ends.tracks, bind=False, security=console_keys)
            spy = bus.sub_socket(ctx, ends.tracks, bind=False, security=intruder_keys)
            rogue = bus.xpub_socket(ctx, ends.detections, security=intruder_keys)
            plain = bus.sub_socket(ctx, ends.tracks, bind=False)  # no CURVE at all
            assert await bus.wait_for_subscriber(sensor, "det.", 10.0)
            # The rogue sensor never sees the daemon's subscription: its handshake fails.
            assert not await bus.wait_for_subscriber(rogue, "det.", 1.0)
            for batch in batches:
                await sensor.send_multipart(bus.frames(batch))
                await rogue.send_multipart(bus.frames(batch), flags=zmq.NOBLOCK)
            got = await _collect(console, 2.0)
            spied = await _collect(spy, 0.5)
            plain_got = await _collect(plain, 0.5)
            assert any(isinstance(m, wire.Tracks) and m.tracks for m in got)
            assert spied == [] and plain_got == []
            # Only the allowed sensor's batches reached the daemon.
            assert daemon.state.counters["received"] == len(batches)
            statuses = [m for m in got if isinstance(m, wire.Status)]
            assert statuses
            # Each refused socket retries its handshake; every refusal is counted.
            assert statuses[-1].counters["auth_rejected"] >= 3
        finally:
            ctx.destroy(linger=0)
            stop.set()
            state = await asyncio.wait_for(task, 10)
        assert state.counters["auth_rejected"] >= 3

    asyncio.run(asyncio.wait_for(main(), 60))


def test_plain_bus_is_loopback_only_and_key_errors_name_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="curve") as err:
        BusConfig(detections="tcp://0.0.0.0:5550")
    assert err.value.key == "bus.detections"
    BusConfig(detections="ipc:///run/cuas/det", tracks="tcp://[::1]:5551")
    BusConfig(security="curve", detections="tcp://*:5550")  # explicit choice: allowed
    with pytest.raises(ConfigError) as err:
        BusConfig(security="tls")
    assert err.value.key == "bus.security"
    cfg = tmp_path / "c.toml"
    cfg.write_text('[bus]\nsecurity = "curve"\nserver_public_key = "missing.key"\n')
    with pytest.raises(ConfigError) as err:
        bus.security(load_config(cfg))
    assert err.value.key == "bus.server_public_key"
    # A public file where a secret one is needed.
    generate("x", tmp_path)
    cfg.write_text('[bus]\nsecurity = "curve"\nserver_secret_key = "x.key"\n')
    with pytest.raises(ConfigError, match="no secret key"):
        bus.security(load_config(cfg))
    # The daemon without an allow list refuses to start rather than accept anyone.
    cfg.write_text('[bus]\nsecurity = "curve"\nserver_secret_key = "x.key_secret"\n')
    with pytest.raises(ConfigError) as err:
        Daemon(load_config(cfg), LOOPBACK)
    assert err.value.key == "bus.allowed_clients"


def test_cuas_keys_writes_private_secret_files_and_never_overwrites(tmp_path: Path) -> None:
    public, secret, key = generate("radar-north", tmp_path)
    assert len(key) == 40
    assert secret.stat().st_mode & 0o777 == 0o600
    assert public.stat().st_mode & 0o077 == 0o044
    with pytest.raises(FileExistsError):
        generate("radar-north", tmp_path)
    assert cli_main(["keys", "../evil", "--dir", str(tmp_path)]) == 1


def _split_site(tmp_path: Path) -> tuple[Config, Path]:
    """A config with separate allow lists: `sensor` may produce, `console` may consume."""
    keys = tmp_path / "keys"
    assert cli_main(["keys", "daemon", "--dir", str(keys)]) == 0
    assert cli_main(["keys", "sensor", "--dir", str(keys), "--allow",
                     str(tmp_path / "producers")]) == 0
    assert cli_main(["keys", "console", "--dir", str(keys), "--allow",
                     str(tmp_path / "consumers")]) == 0
    cfg = tmp_path / "site.toml"
    cfg.write_text(
        '[bus]\nsecurity = "curve"\ndetections = "tcp://127.0.0.1:5550"\n'
        'server_secret_key = "keys/daemon.key_secret"\nserver_public_key = "keys/daemon.key"\n'
        'allowed_producers = "producers"\nallowed_consumers = "consumers"\n')
    return load_config(cfg), keys


def test_an_operator_key_cannot_publish_detections_nor_a_sensor_key_read_tracks(
        tmp_path: Path) -> None:
    config, keys = _split_site(tmp_path)
    sensor_keys = _client(config, keys, "sensor")
    console_keys = _client(config, keys, "console")
    batches = _batches()[:20]

    async def main() -> None:
        daemon = Daemon(config, LOOPBACK, snapshot_hz=20.0, status_period_s=0.2)
        stop = asyncio.Event()
        task = asyncio.create_task(daemon.run(stop))
        await asyncio.wait_for(daemon.ready.wait(), 5)
        ctx = zmq.asyncio.Context()
        try:
            ends = daemon.bound
            console = bus.sub_socket(ctx, ends.tracks, bind=False, security=console_keys)
            forger = bus.xpub_socket(ctx, ends.detections, security=console_keys)
            peeker = bus.sub_socket(ctx, ends.tracks, bind=False, security=sensor_keys)
            assert not await bus.wait_for_subscriber(forger, "det.", 1.5)
            for batch in batches:
                await forger.send_multipart(bus.frames(batch), flags=zmq.NOBLOCK)
            got = await _collect(console, 1.0)
            peeked = await _collect(peeker, 0.3)
            assert any(isinstance(m, wire.Status) for m in got)  # the console is served
            assert peeked == []
            assert daemon.state.counters["received"] == 0
            sensor = bus.xpub_socket(ctx, ends.detections, security=sensor_keys)
            assert await bus.wait_for_subscriber(sensor, "det.", 10.0)
        finally:
            ctx.destroy(linger=0)
            stop.set()
            state = await asyncio.wait_for(task, 10)
        assert state.counters["auth_rejected"] >= 2

    asyncio.run(asyncio.wait_for(main(), 60))


def test_a_key_revoked_then_sighup_is_refused_without_a_restart(tmp_path: Path) -> None:
    config, keys = _split_site(tmp_path)
    sensor_keys = _client(config, keys, "sensor")

    async def main() -> None:
        daemon = Daemon(config, LOOPBACK, snapshot_hz=20.0, status_period_s=0.2)
        stop = asyncio.Event()
        task = asyncio.create_task(daemon.run(stop))
        await asyncio.wait_for(daemon.ready.wait(), 5)
        ctx = zmq.asyncio.Context()
        try:
            first = bus.xpub_socket(ctx, daemon.bound.detections, security=sensor_keys)
            assert await bus.wait_for_subscriber(first, "det.", 10.0)
            first.close(0)
            (tmp_path / "producers" / "sensor.key").unlink()
            os.kill(os.getpid(), signal.SIGHUP)
            await asyncio.sleep(0.3)
            second = bus.xpub_socket(ctx, daemon.bound.detections, security=sensor_keys)
            assert not await bus.wait_for_subscriber(second, "det.", 1.5)
            rejected = daemon.state.counters["auth_rejected"]
            assert rejected >= 1
        finally:
            ctx.destroy(linger=0)
            stop.set()
            await asyncio.wait_for(task, 10)

    asyncio.run(asyncio.wait_for(main(), 60))


def test_a_revoked_key_is_refused_on_its_open_connection_too(tmp_path: Path) -> None:
    """Finding: ZeroMQ checks a key only at the handshake, so a sensor whose key was revoked
    (SIGHUP) kept publishing on the connection it had. Each message's key is checked now."""
    config, keys = _split_site(tmp_path)
    sensor_keys = _client(config, keys, "sensor")
    batches = _batches()

    async def main() -> None:
        daemon = Daemon(config, LOOPBACK, snapshot_hz=20.0, status_period_s=0.2, replay=True)
        stop = asyncio.Event()
        task = asyncio.create_task(daemon.run(stop))
        await asyncio.wait_for(daemon.ready.wait(), 5)
        ctx = zmq.asyncio.Context()
        try:
            sensor = bus.xpub_socket(ctx, daemon.bound.detections, security=sensor_keys)
            assert await bus.wait_for_subscriber(sensor, "det.", 10.0)
            half = len(batches) // 2
            for batch in batches[:half]:
                await sensor.send_multipart(bus.frames(batch))
            for _ in range(100):
                if daemon.state.counters["received"] == half:
                    break
                await asyncio.sleep(0.05)
            assert daemon.state.counters["received"] == half
            assert daemon.state.counters["dropped_revoked_key"] == 0
            (tmp_path / "producers" / "sensor.key").unlink()
            os.kill(os.getpid(), signal.SIGHUP)
            await asyncio.sleep(0.3)
            for batch in batches[half:]:  # the same open connection
                await sensor.send_multipart(bus.frames(batch))
            for _ in range(100):
                if daemon.state.counters["received"] == len(batches):
                    break
                await asyncio.sleep(0.05)
            assert daemon.state.counters["dropped_revoked_key"] == len(batches) - half
            assert daemon.state.sensors[batches[0].sensor].received == half
        finally:
            ctx.destroy(linger=0)
            stop.set()
            await asyncio.wait_for(task, 10)

    asyncio.run(asyncio.wait_for(main(), 60))


def test_a_frame_over_the_zeromq_limit_cuts_only_its_sender_off_and_is_counted() -> None:
    """Finding: a 70 MB frame made ZeroMQ drop the peer without a trace. The daemon's monitor
    counts the closed connection (``producers_disconnected``); other sensors go on."""
    batches = _batches()

    async def main() -> None:
        daemon = Daemon(Config(), LOOPBACK, snapshot_hz=20.0, status_period_s=0.2, replay=True)
        stop = asyncio.Event()
        task = asyncio.create_task(daemon.run(stop))
        await asyncio.wait_for(daemon.ready.wait(), 5)
        ctx = zmq.asyncio.Context()
        try:
            giant = bus.xpub_socket(ctx, daemon.bound.detections)
            honest = bus.xpub_socket(ctx, daemon.bound.detections)
            assert await bus.wait_for_subscriber(giant, "det.", 10.0)
            assert await bus.wait_for_subscriber(honest, "det.", 10.0)
            await giant.send_multipart([b"det.giant", b"\x00" * (bus.MAX_FRAME_BYTES + 1)])
            for _ in range(200):
                if daemon.state.counters["producers_disconnected"] >= 1:
                    break
                await asyncio.sleep(0.05)
            assert daemon.state.counters["producers_disconnected"] >= 1
            for batch in batches:
                await honest.send_multipart(bus.frames(batch))
            for _ in range(100):
                if daemon.state.counters["received"] >= len(batches):
                    break
                await asyncio.sleep(0.05)
            assert daemon.state.counters["received"] == len(batches)
            assert daemon.state.counters["dropped_malformed"] == 0
        finally:
            ctx.destroy(linger=0)
            stop.set()
            await asyncio.wait_for(task, 10)

    asyncio.run(asyncio.wait_for(main(), 90))


def test_record_bind_detections_under_curve_records_only_listed_keys(tmp_path: Path) -> None:
    from cuas.record.recorder import Recorder

    config, keys = _site(tmp_path)
    recorder_keys = bus.security(config)
    assert recorder_keys is not None
    sensor_keys = _client(config, keys, "sensor")
    intruder_keys = _client(config, keys, "intruder")
    batches = _batches()[:5]

    async def main() -> None:
        ctx = zmq.asyncio.Context()
        rec = Recorder(tmp_path / "r.mcap", tracks_endpoint=None,
                       bind_detections="tcp://127.0.0.1:*", context=ctx, security=recorder_keys)
        stop = asyncio.Event()
        task = asyncio.create_task(rec.run(stop))
        try:
            assert rec.detections_endpoint is not None
            rogue = bus.xpub_socket(ctx, rec.detections_endpoint, security=intruder_keys)
            sensor = bus.xpub_socket(ctx, rec.detections_endpoint, security=sensor_keys)
            assert await bus.wait_for_subscriber(sensor, "det.", 10.0)
            assert not await bus.wait_for_subscriber(rogue, "det.", 1.0)
            for batch in batches:
                await rogue.send_multipart(bus.frames(batch), flags=zmq.NOBLOCK)
            await asyncio.sleep(0.5)
            assert rec.messages == 0
            for batch in batches:
                await sensor.send_multipart(bus.frames(batch))
            for _ in range(50):
                if rec.messages >= len(batches):
                    break
                await asyncio.sleep(0.05)
        finally:
            stop.set()
            summary = await asyncio.wait_for(task, 10)
            ctx.destroy(linger=0)
        assert summary.messages == len(batches)

    asyncio.run(asyncio.wait_for(main(), 60))


def test_command_line_endpoints_obey_the_loopback_rule_and_hosts_are_parsed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cuas.config import is_local_endpoint, reference_config

    plain = reference_config()
    assert plain.bus.security == "none"
    with pytest.raises(ConfigError) as err:
        bus.endpoints(plain, "tcp://0.0.0.0:5550")
    assert err.value.key == "--det-endpoint"
    with pytest.raises(ConfigError) as err:
        bus.endpoints(plain, None, "tcp://127.evil.example:5551")
    assert err.value.key == "--trk-endpoint"
    assert bus.endpoints(plain, "tcp://127.0.0.2:5550", "ipc:///tmp/x").tracks == "ipc:///tmp/x"
    for good in ("tcp://127.0.0.1:1", "tcp://localhost:1", "tcp://[::1]:1", "ipc:///x",
                 "tcp://192.0.2.1:0;127.0.0.1:5550"):
        assert is_local_endpoint(good), good
    for bad in ("tcp://127.evil.example:1", "tcp://127.0.0.1.nip.io:1", "tcp://*:1",
                "tcp://0.0.0.0:1", "tcp://[::]:1", "tcp://10.0.0.1:1", "tcp://eth0:1",
                "tcp://127.0.0.1:1;10.0.0.1:2", "pgm://127.0.0.1:1"):
        assert not is_local_endpoint(bad), bad
    # The commands refuse, before binding or connecting anything.
    assert cli_main(["record", "--out", str(tmp_path / "r.mcap"), "--bind-detections",
                     "--det-endpoint", "tcp://0.0.0.0:0", "--duration", "1"]) != 0
    assert not (tmp_path / "r.mcap").exists()
    capsys.readouterr()
    for argv in (["sensor", "adsb", "--source", str(tmp_path / "none.sbs"), "--publish",
                  "tcp://10.0.0.1:5550"],
                 ["replay", "--bus", str(tmp_path / "none.mcap"), "--det-endpoint",
                  "tcp://10.0.0.1:5550"],
                 ["sapient", "serve", "--listen", "127.0.0.1:0", "--publish",
                  "tcp://0.0.0.0:5550"],
                 ["sapient", "export", "--to", "127.0.0.1:1", "--tracks", "tcp://*:5551"]):
        assert cli_main(argv) != 0, argv
        err = capsys.readouterr().err
        assert f"{argv[-2]}: plain ZeroMQ" in err, (argv, err)


def test_a_secret_key_file_readable_by_group_or_others_is_refused(tmp_path: Path) -> None:
    generate("d", tmp_path)
    cfg = tmp_path / "c.toml"
    cfg.write_text('[bus]\nsecurity = "curve"\nserver_secret_key = "d.key_secret"\n'
                   f'allowed_clients = "{tmp_path}"\n')
    assert bus.security(load_config(cfg)) is not None
    (tmp_path / "d.key_secret").chmod(0o644)
    with pytest.raises(ConfigError, match="group or others") as err:
        bus.security(load_config(cfg))
    assert err.value.key == "bus.server_secret_key"
    (tmp_path / "d.key_secret").chmod(0o640)
    with pytest.raises(ConfigError, match="chmod 600"):
        bus.security(load_config(cfg))


def test_a_curve_server_bound_without_its_authenticator_refuses_everyone(
        tmp_path: Path) -> None:
    config, keys = _site(tmp_path)
    server_keys = bus.security(config)
    sensor_keys = _client(config, keys, "sensor")

    async def subscribed(with_auth: bool) -> bool:
        ctx = zmq.asyncio.Context()
        auth = bus.start_authenticator(ctx, server_keys) if with_auth else None
        try:
            sub = bus.sub_socket(ctx, "tcp://127.0.0.1:*", bind=True, security=server_keys)
            sensor = bus.xpub_socket(ctx, sub.getsockopt_string(zmq.LAST_ENDPOINT),
                                     security=sensor_keys)
            # A SUB hands its subscription to a new peer only while the socket is used.
            reading = asyncio.ensure_future(sub.recv_multipart())
            try:
                return await bus.wait_for_subscriber(sensor, "det.", 10.0 if with_auth else 1.5)
            finally:
                reading.cancel()
        finally:
            if auth is not None:
                auth.stop()
            ctx.destroy(linger=0)

    async def main() -> None:
        # libzmq accepts any key when no ZAP handler answers; bus.secure enforces ZAP, so a
        # server someone binds without the authenticator refuses even a listed key.
        assert not await subscribed(with_auth=False)
        assert await subscribed(with_auth=True)

    asyncio.run(asyncio.wait_for(main(), 30))
