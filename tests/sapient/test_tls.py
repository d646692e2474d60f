"""SAPIENT authentication on 127.0.0.1: the fusion node over TLS requires client certificates
signed by the site's CA, a node id belongs to the connection that registered it, and
``cuas sapient export`` reaches a higher node over TLS. Certificates are made here with the
``openssl`` binary into the test's temporary directory (no private key is committed)."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from cuas.config import Config, load_config, reference_config
from cuas.errors import ConfigError
from cuas.outputs.sapient import SapientExporter
from cuas.sapient import convert
from cuas.sapient.proto import new_ulid
from cuas.sensors.sapient.node import SapientServer
from tests.fusion.test_daemon import run_async
from tests.sapient.conftest import MODULE_ID, location_report
from tests.sapient.test_node import Peer, connect, register, sapient_server

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None,
                                reason="the openssl binary makes the test certificates")


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _issue(d: Path, name: str, ca: str) -> None:
    """``name.key`` and ``name.pem`` (for 127.0.0.1) signed by the CA ``ca``."""
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=d)
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
             "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", "san.ext",
             cwd=d)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site CA, the node's and a module's certificates, and a rogue CA's module."""
    d = tmp_path_factory.mktemp("pki")
    for ca in ("ca", "rogue-ca"):
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-nodes", "-keyout", f"{ca}.key", "-out", f"{ca}.pem", "-subj", f"/CN={ca}",
                 "-days", "2", cwd=d)
    _issue(d, "node", "ca")
    _issue(d, "module", "ca")
    _issue(d, "rogue", "rogue-ca")
    return d


def _tls_config(pki: Path, tmp_path: Path, cert: str = "node") -> Config:
    cfg = tmp_path / "site.toml"
    cfg.write_text(f'[sapient]\ntls_cert = "{pki}/{cert}.pem"\ntls_key = "{pki}/{cert}.key"\n'
                   f'tls_ca = "{pki}/ca.pem"\n')
    return load_config(cfg)


def _client_ssl(pki: Path, cert: str | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    if cert is not None:
        ctx.load_cert_chain(pki / f"{cert}.pem", pki / f"{cert}.key")
    return ctx


async def _tls_peer(server: SapientServer, ctx: ssl.SSLContext) -> Peer:
    assert server.address is not None
    return Peer(*await asyncio.open_connection(*server.address, ssl=ctx))


def test_tls_node_accepts_a_certified_module_and_refuses_others(pki: Path,
                                                                  tmp_path: Path) -> None:
    config = _tls_config(pki, tmp_path)

    async def main() -> None:
        server = SapientServer(config, "tcp://127.0.0.1:1", listen="127.0.0.1:0")
        stop = asyncio.Event()
        task = asyncio.create_task(server.run(stop))
        await asyncio.wait_for(server.ready.wait(), 5)
        try:
            module = await _tls_peer(server, _client_ssl(pki, "module"))
            ack = await register(module)
            assert ack.registration_ack.acceptance
            module.close()
            for refused, cert in enumerate((None, "rogue"), start=1):  # no certificate; one the site's CA never signed
                try:
                    peer = await _tls_peer(server, _client_ssl(pki, cert))
                    # TLS 1.3 reports the refusal at the first read, not in the handshake.
                    assert await peer.closed(5.0)
                    peer.close()
                except (ssl.SSLError, ConnectionError):
                    pass
                for _ in range(50):
                    if server.all_counters().get("tls_refused", 0) >= refused:
                        break
                    await asyncio.sleep(0.05)
            # Plain TCP to a TLS node: no handshake, closed, nothing reaches the node.
            plain = await connect(server)
            plain.writer.write(b"\x10\0\0\0not a TLS hello")
            assert await plain.closed(5.0)
            plain.close()
            await asyncio.sleep(0.2)
            c = server.all_counters()
            assert c["tls_refused"] == 2 and c["tls_handshakes"] == 3
            assert c["registrations"] == 1 and c["accepted"] == 1
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)

    run_async(main, 60)


def test_a_node_listening_beyond_loopback_needs_tls(pki: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        SapientServer(reference_config(), "tcp://127.0.0.1:1", listen="0.0.0.0:0")
    assert err.value.key == "sapient.listen"
    cfg = tmp_path / "half.toml"
    cfg.write_text(f'[sapient]\ntls_cert = "{pki}/node.pem"\ntls_key = "{pki}/node.key"\n')
    with pytest.raises(ConfigError) as err:
        SapientServer(load_config(cfg), "tcp://127.0.0.1:1", listen="0.0.0.0:0")
    assert err.value.key == "sapient.tls_ca"
    cfg.write_text('[sapient]\ntls_cert = "missing.pem"\ntls_key = "missing.key"\n'
                   'tls_ca = "missing-ca.pem"\n')
    with pytest.raises(ConfigError, match="not a file"):
        SapientServer(load_config(cfg), "tcp://127.0.0.1:1", listen="0.0.0.0:0")


def test_an_unregistered_connection_cannot_report_under_another_modules_id() -> None:
    async def main() -> None:
        async with sapient_server("tcp://127.0.0.1:1") as server:
            site = reference_config().site
            module = await connect(server)
            await register(module)
            intruder = await connect(server)
            for _ in range(5):
                await intruder.send(location_report(MODULE_ID, new_ulid(time.time()), site.lat,
                                                    site.lon, 50.0))
            err = await intruder.next("error")
            assert "registered on another connection" in err.error.error_message[0]
            await module.send(location_report(MODULE_ID, new_ulid(time.time()), site.lat,
                                              site.lon, 50.0))
            await asyncio.sleep(0.3)
            c = server.all_counters()
            assert c["rejected_not_owner"] == 5 and c["detections"] == 1
            # Once the module's connection closes, its id must register again.
            module.close()
            await asyncio.sleep(0.2)
            await intruder.send(location_report(MODULE_ID, new_ulid(time.time()), site.lat,
                                                site.lon, 50.0))
            await asyncio.sleep(0.2)
            assert server.all_counters()["detections"] == 1
            intruder.close()

    run_async(main, 30)


def test_export_reaches_a_higher_node_over_tls_with_its_certificate(pki: Path,
                                                                      tmp_path: Path) -> None:
    config = _tls_config(pki, tmp_path, cert="module")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki / "ca.pem"))
    server_ctx.load_cert_chain(pki / "node.pem", pki / "node.key")
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    peers: list[str] = []

    async def main() -> None:
        async def upstream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            cert = writer.get_extra_info("peercert")
            peers.append(dict(x[0] for x in cert["subject"])["commonName"])
            peer = Peer(reader, writer)
            reg = await peer.next("registration")
            await peer.send(convert.registration_ack(MODULE_ID, time.time(), reg.node_id, True))
            await reader.read()
            writer.close()

        listener = await asyncio.start_server(upstream, "127.0.0.1", 0, ssl=server_ctx)
        port = listener.sockets[0].getsockname()[1]
        exporter = SapientExporter(config, "tcp://127.0.0.1:1", f"127.0.0.1:{port}")
        stop = asyncio.Event()
        task = asyncio.create_task(exporter.run(stop))
        try:
            await asyncio.wait_for(exporter.registered.wait(), 10)
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)
            listener.close()
        assert peers == ["module"]

    run_async(main, 30)
