"""Three IQ sources behind one interface: a cu8 file (rtl_433 naming), an rtl_tcp server and a
local RTL-SDR dongle through pyrtlsdr (GPL: an optional extra, imported only here, only when
used). Each delivers raw cu8 bytes (I, Q interleaved) at ``rate_hz`` around the last tuned
frequency; the detector converts them.

``open_source(spec)`` picks one: ``rtltcp://HOST:PORT``, ``rtlsdr://INDEX`` or a file path.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from pathlib import Path
from typing import Any, BinaryIO, Final, Protocol
from urllib.parse import urlsplit

from cuas.errors import CuasError, DecodeError
from cuas.sensors.rf import rtl_tcp

#: rtl_433 file naming: NAME_<freq>_<rate>.cu8, e.g. g001_433.92M_250k.cu8.
_NAME = re.compile(r"_(\d+(?:\.\d+)?)([kMG]?)_(\d+(?:\.\d+)?)([kM]?)\.cu8$", re.IGNORECASE)
_SCALE: Final = {"": 1.0, "k": 1e3, "m": 1e6, "g": 1e9}
#: How long a server has to greet us or a read to progress before the link counts as dead (s).
READ_TIMEOUT_S: Final = 5.0


class IqSource(Protocol):
    """What the adapter needs from a receiver. Frequencies Hz, gain dB (None: automatic)."""

    rate_hz: float
    #: Whether ``tune`` changes what is received (False for a file: one fixed centre).
    tunable: bool
    centre_hz: float

    async def open(self) -> None: ...

    async def tune(self, freq_hz: float) -> None: ...

    async def set_gain(self, gain_db: float | None) -> None: ...

    async def read(self, n_bytes: int) -> bytes:
        """Up to ``n_bytes`` (even) of cu8; fewer only at the end of a file.
        Raises ``ConnectionError`` when a live link drops."""
        ...

    async def close(self) -> None: ...


def parse_cu8_name(path: str | Path) -> tuple[float | None, float | None]:
    """(centre Hz, rate Hz) from an rtl_433-style name ``NAME_<freq>_<rate>.cu8``; None for
    what the name does not state (``x_250k.cu8`` gives only the rate)."""
    name = Path(path).name
    m = _NAME.search(name)
    if m:
        return (float(m.group(1)) * _SCALE[m.group(2).lower()],
                float(m.group(3)) * _SCALE[m.group(4).lower()])
    m = re.search(r"_(\d+(?:\.\d+)?)([kM])\.cu8$", name, re.IGNORECASE)
    if m:
        return None, float(m.group(1)) * _SCALE[m.group(2).lower()]
    return None, None


class FileSource:
    """A cu8 capture read to its end. Centre and rate come from the name (rtl_433 naming) or
    are given; an odd final byte is dropped and counted in ``odd_bytes``."""

    tunable = False

    def __init__(self, path: str | Path, rate_hz: float | None = None,
                 centre_hz: float | None = None) -> None:
        self.path = Path(path)
        name_centre, name_rate = parse_cu8_name(self.path)
        rate = rate_hz if rate_hz is not None else name_rate
        if rate is None:
            raise CuasError(f"{self.path}: sample rate unknown: name the file "
                            "NAME_<freq>_<rate>.cu8 (rtl_433 style) or give the rate")
        self.rate_hz = float(rate)
        self.centre_hz = float(centre_hz if centre_hz is not None else name_centre or 0.0)
        self.odd_bytes = 0
        self._fh: BinaryIO | None = None
        self._carry = b""

    async def open(self) -> None:
        try:
            self._fh = self.path.open("rb")
        except OSError as exc:
            raise CuasError(f"cannot read {self.path}: {exc.strerror}") from None

    async def tune(self, freq_hz: float) -> None:
        """A file has one centre: tuning changes nothing."""

    async def set_gain(self, gain_db: float | None) -> None:
        """A file's gain was set when it was recorded."""

    async def read(self, n_bytes: int) -> bytes:
        assert self._fh is not None, "open() first"
        data = self._carry + self._fh.read(n_bytes - len(self._carry))
        self._carry = b""
        if len(data) % 2:
            nxt = self._fh.read(1)
            if nxt:
                data += nxt
            else:
                self.odd_bytes += 1
                data = data[:-1]
        return data

    async def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


class RtlTcpSource:
    """A client of an rtl_tcp server: greeting checked, commands for rate, frequency, gain
    and frequency correction, then cu8 reads. A drop raises ``ConnectionError``."""

    tunable = True

    def __init__(self, host: str, port: int, rate_hz: float, *, ppm: int = 0,
                 timeout_s: float = READ_TIMEOUT_S) -> None:
        self.host, self.port = host, port
        self.rate_hz = rate_hz
        self.ppm = ppm
        self.timeout_s = timeout_s
        self.centre_hz = 0.0
        self.greeting: rtl_tcp.Greeting | None = None
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._carry = b""

    async def open(self) -> None:
        try:
            reader, self._writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), timeout=self.timeout_s)
            self._reader = reader
            head = await asyncio.wait_for(reader.readexactly(rtl_tcp.HEADER_LEN),
                                          timeout=self.timeout_s)
        except asyncio.IncompleteReadError as exc:
            await self.close()
            raise DecodeError(f"rtl_tcp greeting is {rtl_tcp.HEADER_LEN} bytes, got "
                              f"{len(exc.partial)} before the server closed", key="header",
                              data=exc.partial) from None
        except (TimeoutError, OSError) as exc:
            await self.close()
            raise ConnectionError(f"rtl_tcp {self.host}:{self.port}: {exc}") from None
        try:
            self.greeting = rtl_tcp.parse_greeting(head)
        except DecodeError:
            await self.close()
            raise
        self._carry = b""
        await self._send(rtl_tcp.SET_SAMPLE_RATE, int(round(self.rate_hz)))
        if self.ppm:
            await self._send(rtl_tcp.SET_FREQ_CORRECTION, self.ppm)

    async def _send(self, code: int, value: int) -> None:
        if self._writer is None:
            raise ConnectionError("rtl_tcp: not connected")
        try:
            self._writer.write(rtl_tcp.command(code, value))
            await self._writer.drain()
        except OSError as exc:
            raise ConnectionError(f"rtl_tcp {self.host}:{self.port}: {exc}") from None

    async def tune(self, freq_hz: float) -> None:
        self.centre_hz = freq_hz
        await self._send(rtl_tcp.SET_FREQUENCY, int(round(freq_hz)))

    async def set_gain(self, gain_db: float | None) -> None:
        if gain_db is None:
            await self._send(rtl_tcp.SET_GAIN_MODE, 0)
            return
        await self._send(rtl_tcp.SET_GAIN_MODE, 1)
        await self._send(rtl_tcp.SET_GAIN, rtl_tcp.nearest_gain_tenths(gain_db))

    async def read(self, n_bytes: int) -> bytes:
        if self._reader is None:
            raise ConnectionError("rtl_tcp: not connected")
        try:
            data = await asyncio.wait_for(self._reader.readexactly(n_bytes),
                                          timeout=self.timeout_s)
        except asyncio.IncompleteReadError as exc:
            raise ConnectionError(f"rtl_tcp {self.host}:{self.port} closed after "
                                  f"{len(exc.partial)} of {n_bytes} bytes") from None
        except (TimeoutError, OSError) as exc:
            raise ConnectionError(f"rtl_tcp {self.host}:{self.port}: {exc or 'timeout'}") from None
        return data

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
        self._reader = self._writer = None


class RtlSdrSource:
    """A local dongle through pyrtlsdr (``pip install 'cuas[rtlsdr]'`` and librtlsdr)."""

    tunable = True

    def __init__(self, index: int, rate_hz: float, *, ppm: int = 0) -> None:
        self.index = index
        self.rate_hz = rate_hz
        self.ppm = ppm
        self.centre_hz = 0.0
        self._sdr: Any = None

    async def open(self) -> None:
        try:
            import rtlsdr  # GPL, optional: imported only for a local dongle
        except Exception as exc:  # ImportError, or OSError when librtlsdr is missing
            raise CuasError(f"rtlsdr://{self.index} needs pyrtlsdr and librtlsdr "
                            f"(pip install 'cuas[rtlsdr]'): {exc}") from None
        try:
            self._sdr = await asyncio.to_thread(rtlsdr.RtlSdr, self.index)
            self._sdr.sample_rate = self.rate_hz
            if self.ppm:
                self._sdr.freq_correction = self.ppm
        except Exception as exc:  # librtlsdr raises IOError/LibUSBError variants
            raise ConnectionError(f"rtlsdr://{self.index}: {exc}") from None

    async def tune(self, freq_hz: float) -> None:
        self.centre_hz = freq_hz
        try:
            self._sdr.center_freq = freq_hz
        except Exception as exc:
            raise ConnectionError(f"rtlsdr://{self.index}: {exc}") from None

    async def set_gain(self, gain_db: float | None) -> None:
        try:
            self._sdr.gain = "auto" if gain_db is None else gain_db
        except Exception as exc:
            raise ConnectionError(f"rtlsdr://{self.index}: {exc}") from None

    async def read(self, n_bytes: int) -> bytes:
        try:
            data = await asyncio.to_thread(self._sdr.read_bytes, n_bytes)
        except Exception as exc:
            raise ConnectionError(f"rtlsdr://{self.index}: {exc}") from None
        return bytes(data)

    async def close(self) -> None:
        if self._sdr is not None:
            sdr, self._sdr = self._sdr, None
            await asyncio.to_thread(sdr.close)


def open_source(spec: str, rate_hz: float, *, ppm: int = 0) -> IqSource:
    """The source named by ``spec``: ``rtltcp://HOST:PORT``, ``rtlsdr://INDEX`` or a cu8 file
    (whose name gives its rate; else ``rate_hz``)."""
    if spec.startswith("rtltcp://"):
        u = urlsplit(spec)
        try:
            port = u.port
        except ValueError:
            port = None
        if not u.hostname or not port:
            raise CuasError(f"{spec}: expected rtltcp://HOST:PORT")
        return RtlTcpSource(u.hostname, port, rate_hz, ppm=ppm)
    if spec.startswith("rtlsdr://"):
        idx = spec[len("rtlsdr://"):] or "0"
        if not idx.isdigit():
            raise CuasError(f"{spec}: expected rtlsdr://INDEX (a device number)")
        return RtlSdrSource(int(idx), rate_hz, ppm=ppm)
    _, name_rate = parse_cu8_name(spec)
    return FileSource(spec, rate_hz=None if name_rate else rate_hz)
