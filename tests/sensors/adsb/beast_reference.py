"""A plain, byte-walking Beast deframer: the reference the fast one in cuas.sensors.adsb.decode is
checked against (same frames, same rest, same counters on any input)."""

from __future__ import annotations

from cuas.sensors.adsb.framing import _BEAST_LEN, _MAX_ESCAPED, ESC, BeastFrame, FramingStats


def reference_parse_beast(buf: bytes, stats: FramingStats | None = None) -> tuple[list[BeastFrame], bytes]:
    """Split a Beast byte stream into frames; returns (frames, rest).

    ``rest`` is an incomplete last frame to prepend to the next read. A frame is 0x1a, a type
    byte, then timestamp (6 bytes, big-endian), signal (1) and message, with every 0x1a in the
    body doubled. Bytes before a frame start are garbage; a lone 0x1a inside a body means the
    frame was cut: it is dropped and that 0x1a is tried as the next frame's start. Both are
    counted in ``stats``. Never raises on any input.
    """
    st = stats if stats is not None else FramingStats()
    frames: list[BeastFrame] = []
    append = frames.append
    n = len(buf)
    find = buf.find
    i = find(b"\x1a")
    if i < 0:
        st.garbage_bytes += n
        return frames, b""
    st.garbage_bytes += i
    while i < n:
        # here buf[i] == ESC: the start of a frame
        if i + 1 >= n:
            return frames, buf[i:]
        typ = buf[i + 1]
        if typ == ESC:  # an escaped 0x1a where a frame should start: garbage
            st.garbage_bytes += 2
            j = find(b"\x1a", i + 2)
            if j < 0:
                st.garbage_bytes += n - i - 2
                return frames, b""
            st.garbage_bytes += j - i - 2
            i = j
            continue
        mlen = _BEAST_LEN.get(typ)
        if mlen is None:
            # Another type (readsb status/receiver-id frames): skip to the next frame start.
            j = _next_start(buf, i + 2)
            if j < 0:
                if n - i > _MAX_ESCAPED:
                    st.unknown_frames += 1
                    return frames, b""
                return frames, buf[i:]
            st.unknown_frames += 1
            i = j
            continue
        body = 7 + mlen
        end = i + 2 + body
        if end > n:
            # Incomplete; but if a lone escape already shows the frame is cut, resync now.
            cut = _lone_escape(buf, i + 2, n)
            if cut is None:
                return frames, buf[i:]
            st.bad_frames += 1
            i = cut
            continue
        if find(b"\x1a", i + 2, end) < 0:  # fast path: no escapes in the body
            raw = buf[i + 2:end]
            nxt = end
        else:
            got = _unescape(buf, i + 2, body)
            if got is None:  # ran out of bytes
                return frames, buf[i:]
            if isinstance(got, int):  # lone escape at got: the frame was cut
                st.bad_frames += 1
                i = got
                continue
            raw, nxt = got
        append(BeastFrame(typ - 0x30, int.from_bytes(raw[:6], "big"), raw[6], raw[7:]))
        st.frames += 1
        if nxt < n and buf[nxt] != ESC:
            j = find(b"\x1a", nxt)
            if j < 0:
                st.garbage_bytes += n - nxt
                return frames, b""
            st.garbage_bytes += j - nxt
            nxt = j
        i = nxt
    return frames, b""


def _next_start(buf: bytes, k: int) -> int:
    """Index of the next 0x1a not followed by another 0x1a (a frame start), or -1."""
    n = len(buf)
    while True:
        k = buf.find(b"\x1a", k)
        if k < 0 or k + 1 >= n:
            return -1 if k < 0 else k
        if buf[k + 1] != ESC:
            return k
        k += 2


def _lone_escape(buf: bytes, k: int, n: int) -> int | None:
    """Index of the first lone 0x1a in buf[k:n] (one followed by something else), or None."""
    while True:
        k = buf.find(b"\x1a", k, n)
        if k < 0 or k + 1 >= n:
            return None
        if buf[k + 1] != ESC:
            return k
        k += 2


def _unescape(buf: bytes, k: int, want: int) -> tuple[bytes, int] | int | None:
    """``want`` body bytes from ``k``, un-doubling 0x1a. Returns (body, next index), the index
    of a lone 0x1a (cut frame), or None when the buffer ends first."""
    out = bytearray()
    n = len(buf)
    while len(out) < want:
        if k >= n:
            return None
        b = buf[k]
        if b == ESC:
            if k + 1 >= n:
                return None
            if buf[k + 1] != ESC:
                return k
            k += 2
        else:
            k += 1
        out.append(b)
    return bytes(out), k
