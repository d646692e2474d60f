"""CURVE on the bus: real daemon, real ZeroMQ sockets on 127.0.0.1, keys made by `cuas keys`."""

from __future__ import annotations

import asyncio
import dataclasses
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
