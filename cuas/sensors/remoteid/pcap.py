"""A small reader of packet captures: classic pcap (both byte orders, micro- and nanosecond
time stamps) and pcapng (Section Header, Interface Description, Enhanced and Simple Packet
blocks; each interface's link type and time-stamp resolution).

Pure and incremental like the other framers: :meth:`CaptureReader.feed` takes bytes and returns
the complete packets in them, keeping a cut record for the next call; a damaged record is
skipped and counted (``bad_records``), never raised, except a file that is neither format at
all (:class:`~cuas.errors.DecodeError` from the first call).

Link types used here (tcpdump.org/linktypes): 105 IEEE 802.11 (no radio header), 127 802.11
with radiotap, 251 Bluetooth LE link layer, 256 Bluetooth LE link layer with phdr, 272 Nordic
BLE sniffer.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final, NamedTuple

from cuas.errors import DecodeError

LINKTYPE_IEEE802_11: Final = 105
LINKTYPE_IEEE802_11_RADIOTAP: Final = 127
LINKTYPE_BLUETOOTH_LE_LL: Final = 251
LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR: Final = 256
LINKTYPE_NORDIC_BLE: Final = 272

#: A record claiming more than this is damage, not a packet (bytes).
MAX_RECORD: Final = 1 << 20

_PCAP_MAGIC: Final = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6), b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9), b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}
_PCAPNG_SHB: Final = b"\x0a\x0d\x0d\x0a"


class Packet(NamedTuple):
    """One captured packet: ``t`` UTC seconds, ``linktype`` (see the module docstring),
    ``data`` the bytes as captured."""

    t: float
    linktype: int
    data: bytes


@dataclass(slots=True)
class CaptureStats:
    """What the reader saw (monotonic counters)."""

    packets: int = 0
    bad_records: int = 0
    other_blocks: int = 0


@dataclass(slots=True)
class _Interface:
    linktype: int
    tick_s: float = 1e-6


class CaptureReader:
    """Incremental pcap/pcapng reader (see the module docstring)."""

    def __init__(self) -> None:
        self.format: str | None = None  # "pcap" or "pcapng" once the header is read
        self.stats = CaptureStats()
        self._rest = b""
        self._order = "<"
        self._tick = 1e-6
        self._linktype = 0
        self._ifaces: list[_Interface] = []

    def feed(self, data: bytes) -> list[Packet]:
        """Packets complete in what was fed so far; raises DecodeError if the first bytes are
        neither pcap nor pcapng."""
        buf = self._rest + data
        if self.format is None:
            if len(buf) < 24 and not buf.startswith(_PCAPNG_SHB):
                if len(buf) >= 4 and buf[:4] not in _PCAP_MAGIC:
                    raise DecodeError("not a pcap or pcapng capture", data=buf[:4])
                self._rest = buf
                return []
            if buf[:4] in _PCAP_MAGIC:
                self._order, self._tick = _PCAP_MAGIC[buf[:4]]
                self._linktype = struct.unpack_from(self._order + "I", buf, 20)[0] & 0x0FFFFFFF
                self.format = "pcap"
                buf = buf[24:]
            elif buf.startswith(_PCAPNG_SHB):
                self.format = "pcapng"
            else:
                raise DecodeError("not a pcap or pcapng capture", data=buf[:4])
        out: list[Packet] = []
        pos = self._pcap(buf, out) if self.format == "pcap" else self._pcapng(buf, out)
        self._rest = buf[pos:]
        self.stats.packets += len(out)
        return out

    @property
    def pending(self) -> int:
        """Bytes held back (a record cut at the end of what was fed)."""
        return len(self._rest)

    def _pcap(self, buf: bytes, out: list[Packet]) -> int:
        pos, n = 0, len(buf)
        head = struct.Struct(self._order + "IIII")
        while pos + 16 <= n:
            sec, frac, incl, _orig = head.unpack_from(buf, pos)
            if incl > MAX_RECORD:
                # No length to trust: the rest of this capture cannot be re-framed.
                self.stats.bad_records += 1
                return n
            if pos + 16 + incl > n:
                break
            out.append(Packet(sec + frac * self._tick, self._linktype,
                              bytes(buf[pos + 16:pos + 16 + incl])))
            pos += 16 + incl
        return pos

    def _pcapng(self, buf: bytes, out: list[Packet]) -> int:
        pos, n = 0, len(buf)
        while pos + 12 <= n:
            if buf[pos:pos + 4] == _PCAPNG_SHB:
                bom = buf[pos + 8:pos + 12]
                if bom == b"\x4d\x3c\x2b\x1a":
                    self._order = "<"
                elif bom == b"\x1a\x2b\x3c\x4d":
                    self._order = ">"
                else:
                    self.stats.bad_records += 1
                    return n
                self._ifaces = []  # interfaces are numbered per section
            o = self._order
            btype, blen = struct.unpack_from(o + "II", buf, pos)
            if blen < 12 or blen % 4 or blen > MAX_RECORD:
                self.stats.bad_records += 1
                return n
            if pos + blen > n:
                break
            body = buf[pos + 8:pos + blen - 4]
            try:
                self._block(btype, body, out)
            except (struct.error, IndexError, ValueError, OverflowError):
                self.stats.bad_records += 1
            pos += blen
        return pos

    def _block(self, btype: int, body: bytes, out: list[Packet]) -> None:
        o = self._order
        if btype == 1:  # Interface Description Block
            linktype = struct.unpack_from(o + "H", body, 0)[0]
            iface = _Interface(linktype)
            opts = 8
            while opts + 4 <= len(body):
                code, length = struct.unpack_from(o + "HH", body, opts)
                if code == 0:
                    break
                if code == 9 and length >= 1:  # if_tsresol
                    r = body[opts + 4]
                    iface.tick_s = 2.0 ** -(r & 0x7F) if r & 0x80 else 10.0 ** -r
                opts += 4 + (length + 3) // 4 * 4
            self._ifaces.append(iface)
        elif btype == 6:  # Enhanced Packet Block
            if_id, hi, lo, cap, _orig = struct.unpack_from(o + "IIIII", body, 0)
            if if_id >= len(self._ifaces) or 20 + cap > len(body):
                raise ValueError("bad enhanced packet block")
            iface = self._ifaces[if_id]
            out.append(Packet(((hi << 32) | lo) * iface.tick_s, iface.linktype,
                              bytes(body[20:20 + cap])))
        elif btype == 3:  # Simple Packet Block: interface 0, no time stamp
            if not self._ifaces:
                raise ValueError("simple packet block before any interface")
            orig = struct.unpack_from(o + "I", body, 0)[0]
            out.append(Packet(float("nan"), self._ifaces[0].linktype,
                              bytes(body[4:4 + min(orig, len(body) - 4)])))
        elif btype != 0x0A0D0D0A:
            self.stats.other_blocks += 1


def read_capture(data: bytes) -> tuple[list[Packet], CaptureStats]:
    """Every packet of a whole capture in memory (a cut last record counts as bad)."""
    reader = CaptureReader()
    packets = reader.feed(data)
    if reader.pending:
        reader.stats.bad_records += 1
    return packets, reader.stats
