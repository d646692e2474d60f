"""Tamper evidence for recordings: a signed hash chain over the recorder's chunks.

The manifest is a sidecar file, ``RECORDING.manifest`` (JSON Lines), written as the recording
grows. Its first line is a header (format, recording name, the signer's Ed25519 public key or
null). Each further line covers one *segment*: the bytes the writer added to the recording
between two flushes, which is the MCAP header (segment 0), one chunk with its message index
(segments 1, 2, ...), or, last, the summary and footer (``"final": true``). Segments tile the
file from byte 0 without gaps, so every byte of a recording is covered by exactly one line.

Each line holds the segment's byte range, its SHA-256, and the chain value
``chain_i = SHA-256(chain_{i-1} || sha256_i || start_i || end_i)`` (offsets as 8-byte big-endian;
``chain_-1`` is the SHA-256 of the header line), signed with Ed25519 when the recorder has a key
(``cuas keys --sign NAME``). A line is written and flushed only after its segment is on disk, so
a recorder killed (``kill -9``) leaves a manifest that verifies up to its last complete chunk.

:func:`verify` re-reads the recording and names the first segment whose bytes, chain link or
signature do not match.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final, Literal

from cuas.errors import RecordingError

__all__ = [
    "FORMAT",
    "HashingFile",
    "ManifestWriter",
    "SigningKey",
    "Verdict",
    "load_public_key",
    "load_signing_key",
    "manifest_path",
    "verify",
    "write_signing_key",
]

FORMAT: Final = "cuas-recording-manifest/1"
SUFFIX: Final = ".manifest"
_PUBLIC_TAG: Final = "cuas-ed25519-public"
_SECRET_TAG: Final = "cuas-ed25519-secret"
_READ_BLOCK: Final = 1 << 20


def manifest_path(recording: str | os.PathLike[str]) -> Path:
    """Where the manifest of ``recording`` lives: ``RECORDING.manifest`` beside it."""
    p = Path(recording)
    return p.with_name(p.name + SUFFIX)


# --------------------------------------------------------------------------- keys


@dataclass(frozen=True, slots=True)
class SigningKey:
    """An Ed25519 key pair (32-byte seed and 32-byte public key)."""

    seed: bytes
    public: bytes

    @property
    def key_id(self) -> str:
        """Short fingerprint of the public key: first 16 hex digits of its SHA-256."""
        return key_id(self.public)

    def sign(self, data: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``data``."""
        import nacl.signing

        return bytes(nacl.signing.SigningKey(self.seed).sign(data).signature)


def key_id(public: bytes) -> str:
    """Short fingerprint of an Ed25519 public key (16 hex digits)."""
    return hashlib.sha256(public).hexdigest()[:16]


def write_signing_key(name: str, directory: Path, *, force: bool = False) -> tuple[Path, Path, str]:
    """Make an Ed25519 pair: ``NAME.sign.pub`` (0644) and ``NAME.sign.key`` (0600) in
    ``directory``; returns both paths and the key id. Raises ``FileExistsError`` unless
    ``force``."""
    import nacl.signing

    public_file = directory / f"{name}.sign.pub"
    secret_file = directory / f"{name}.sign.key"
    if not force and (public_file.exists() or secret_file.exists()):
        raise FileExistsError(f"{public_file} or {secret_file} exists (--force overwrites)")
    directory.mkdir(parents=True, exist_ok=True)
    sk = nacl.signing.SigningKey.generate()
    seed, public = bytes(sk), bytes(sk.verify_key)
    b64 = base64.b64encode
    # The secret file must never exist with loose permissions, even for a moment.
    old_umask = os.umask(0o077)
    try:
        secret_file.write_text(f"{_SECRET_TAG} {b64(seed).decode()} {b64(public).decode()}\n")
    finally:
        os.umask(old_umask)
    os.chmod(secret_file, 0o600)
    public_file.write_text(f"{_PUBLIC_TAG} {b64(public).decode()}\n")
    os.chmod(public_file, 0o644)
    return public_file, secret_file, key_id(public)


def _read_tagged(path: str | os.PathLike[str], tag: str, count: int) -> list[bytes]:
    try:
        text = Path(path).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise RecordingError(f"{path}: cannot read key: {exc}") from exc
    parts = text.split()
    if len(parts) != count + 1 or parts[0] != tag:
        raise RecordingError(f"{path}: not a {tag} key file (made by `cuas keys --sign`)")
    try:
        out = [base64.b64decode(p, validate=True) for p in parts[1:]]
    except ValueError as exc:
        raise RecordingError(f"{path}: key is not base64: {exc}") from exc
    if any(len(b) != 32 for b in out):
        raise RecordingError(f"{path}: an Ed25519 key is 32 bytes")
    return out


def load_signing_key(path: str | os.PathLike[str]) -> SigningKey:
    """Read a ``NAME.sign.key`` file; checks that its public half matches its seed."""
    import nacl.signing

    seed, public = _read_tagged(path, _SECRET_TAG, 2)
    if bytes(nacl.signing.SigningKey(seed).verify_key) != public:
        raise RecordingError(f"{path}: the public key does not belong to the secret key")
    return SigningKey(seed=seed, public=public)


def load_public_key(path: str | os.PathLike[str]) -> bytes:
    """Read a ``NAME.sign.pub`` (or ``NAME.sign.key``) file; the 32-byte public key."""
    try:
        head = Path(path).read_text(encoding="ascii").split(maxsplit=1)[:1]
    except (OSError, UnicodeDecodeError) as exc:
        raise RecordingError(f"{path}: cannot read key: {exc}") from exc
    if head == [_SECRET_TAG]:
        return load_signing_key(path).public
    return _read_tagged(path, _PUBLIC_TAG, 1)[0]


# --------------------------------------------------------------------------- writing


def _link(prev: bytes, digest: bytes, start: int, end: int, final: bool) -> bytes:
    return hashlib.sha256(prev + digest + start.to_bytes(8, "big") + end.to_bytes(8, "big")
                          + (b"\x01" if final else b"\x00")).digest()


def _entry(i: int, start: int, end: int, digest: bytes, link: bytes, sig: bytes | None,
           final: bool) -> bytes:
    """One manifest line, canonical: the verifier rebuilds it and compares byte for byte."""
    e: dict[str, Any] = {"i": i, "start": start, "end": end, "sha256": digest.hex(),
                         "chain": link.hex()}
    if sig is not None:
        e["sig"] = base64.b64encode(sig).decode()
    if final:
        e["final"] = True
    return json.dumps(e, separators=(",", ":")).encode()


class HashingFile:
    """A binary file wrapper for the MCAP writer that hashes what passes through it.

    :meth:`cut` ends the current segment: its byte range and SHA-256.
    """

    def __init__(self, f: IO[bytes]) -> None:
        self._f = f
        self._pos = 0
        self._start = 0
        self._hash = hashlib.sha256()

    def write(self, data: bytes | bytearray | memoryview) -> int:
        n = self._f.write(data)
        self._hash.update(data)
        self._pos += len(data)
        return n

    def tell(self) -> int:
        return self._pos

    def flush(self) -> None:
        self._f.flush()

    def fileno(self) -> int:
        return self._f.fileno()

    def close(self) -> None:
        self._f.close()

    @property
    def closed(self) -> bool:
        return self._f.closed

    def cut(self) -> tuple[int, int, bytes] | None:
        """(start, end, sha256) of the bytes written since the last cut, or None if none."""
        if self._pos == self._start:
            return None
        seg = (self._start, self._pos, self._hash.digest())
        self._start = self._pos
        self._hash = hashlib.sha256()
        return seg


class ManifestWriter:
    """Append the manifest lines of one recording (see the module docstring).

    ``key``: sign each chain value (None: an unsigned hash chain, which still detects damage
    but not a forger who rewrites the manifest too).
    """

    def __init__(self, recording: str | os.PathLike[str], key: SigningKey | None = None,
                 *, fsync: bool = False) -> None:
        self.path = manifest_path(recording)
        self._key = key
        self._fsync = fsync
        header = {"format": FORMAT, "recording": Path(recording).name, "hash": "sha256",
                  "signature": "ed25519" if key else None,
                  "public_key": base64.b64encode(key.public).decode() if key else None,
                  "key_id": key.key_id if key else None, "created": round(time.time(), 3)}
        line = json.dumps(header, separators=(",", ":")).encode()
        try:
            self._file: IO[bytes] = open(self.path, "wb")  # noqa: SIM115 - closed by close()
        except OSError as exc:
            raise RecordingError(f"{self.path}: cannot create manifest: {exc.strerror or exc}") from exc
        self._chain = hashlib.sha256(line).digest()
        self._index = 0
        self._write_line(line)

    def _write_line(self, line: bytes) -> None:
        self._file.write(line + b"\n")
        self._file.flush()
        if self._fsync:
            os.fsync(self._file.fileno())

    def add(self, start: int, end: int, digest: bytes, *, final: bool = False) -> None:
        """Record one segment (bytes ``start``..``end`` of the recording, already on disk)."""
        self._chain = _link(self._chain, digest, start, end, final)
        sig = self._key.sign(self._chain) if self._key is not None else None
        line = _entry(self._index, start, end, digest, self._chain, sig, final)
        self._index += 1
        self._write_line(line)

    def close(self) -> None:
        """Close the manifest file. Idempotent."""
        self._file.close()


# --------------------------------------------------------------------------- verifying


def segment_name(i: int, final: bool) -> str:
    """How a report names segment ``i``: the MCAP header, chunk N, or summary and footer."""
    if i == 0:
        return "segment 0 (MCAP header)"
    return f"segment {i} (summary and footer)" if final else f"segment {i} (chunk {i})"


@dataclass(frozen=True, slots=True)
class Verdict:
    """What :func:`verify` found.

    ``status``: ``intact`` (every byte covered and matching, closed properly), ``torn`` (the
    covered prefix matches but the recorder did not close it: ``verified_bytes`` of
    ``file_bytes`` are covered), ``altered`` (``first_bad`` names the first segment that does
    not match), or ``unverifiable`` (no manifest, or one that cannot be read).
    """

    status: Literal["intact", "torn", "altered", "unverifiable"]
    message: str
    segments: int = 0
    verified_bytes: int = 0
    file_bytes: int = 0
    first_bad: int | None = None
    signed: bool = False
    key_id: str | None = None
    key_trusted: bool = False

    @property
    def ok(self) -> bool:
        """True when nothing covered by the manifest was altered (intact or torn)."""
        return self.status in ("intact", "torn")


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with open(path, "rb") as f:
        for n, raw in enumerate(f, start=1):
            if raw.endswith(b"\n"):
                yield n, raw[:-1]
            # an unterminated last line is a manifest cut mid-write: not covered


def _hash_range(f: IO[bytes], start: int, end: int) -> bytes:
    h = hashlib.sha256()
    f.seek(start)
    left = end - start
    while left > 0:
        block = f.read(min(left, _READ_BLOCK))
        if not block:
            break
        h.update(block)
        left -= len(block)
    return h.digest()


def verify(recording: str | os.PathLike[str], *, manifest: str | os.PathLike[str] | None = None,
           trusted_key: bytes | None = None) -> Verdict:
    """Check ``recording`` against its manifest (default ``RECORDING.manifest``).

    ``trusted_key``: the signer's 32-byte public key; when given, a manifest signed with
    another key (or unsigned) is ``altered``. Never raises for damaged input.
    """
    rec = Path(recording)
    mpath = Path(manifest) if manifest is not None else manifest_path(rec)
    try:
        size = rec.stat().st_size
    except OSError as exc:
        return Verdict("unverifiable", f"{rec}: cannot read: {exc.strerror or exc}")
    if not mpath.exists():
        return Verdict("unverifiable", f"{rec}: no manifest ({mpath.name} missing): "
                       "integrity cannot be checked", file_bytes=size)
    try:
        return _verify(rec, mpath, size, trusted_key)
    except OSError as exc:
        return Verdict("unverifiable", f"{mpath}: cannot read: {exc.strerror or exc}",
                       file_bytes=size)


def _verify(rec: Path, mpath: Path, size: int, trusted_key: bytes | None) -> Verdict:
    import nacl.exceptions
    import nacl.signing

    lines = _lines(mpath)
    first = next(lines, None)
    try:
        header = json.loads(first[1]) if first else None
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        return Verdict("altered", f"{mpath}: line 1 is not a {FORMAT} header", file_bytes=size,
                       first_bad=0)
    assert first is not None
    verifier = None
    kid: str | None = None
    if header.get("public_key") is not None:
        try:
            public = base64.b64decode(str(header["public_key"]), validate=True)
            if base64.b64encode(public).decode() != header["public_key"]:
                raise ValueError("not canonical base64")
            verifier = nacl.signing.VerifyKey(public)
        except (ValueError, TypeError, nacl.exceptions.CryptoError):
            return Verdict("altered", f"{mpath}: the header's public key is malformed",
                           file_bytes=size, first_bad=0)
        kid = key_id(public)
    trusted = trusted_key is not None and verifier is not None and bytes(verifier) == trusted_key
    base = {"file_bytes": size, "signed": verifier is not None, "key_id": kid,
            "key_trusted": trusted}
    if trusted_key is not None and not trusted:
        who = f"key {kid}" if kid else "no key"
        return Verdict("altered", f"{rec}: manifest is signed with {who}, not the trusted key "
                       f"{key_id(trusted_key)}", first_bad=0, **base)  # type: ignore[arg-type]
    chain = hashlib.sha256(first[1]).digest()
    covered = 0
    count = 0
    final = False
    with open(rec, "rb") as f:
        for line_no, raw in lines:
            try:
                e = json.loads(raw)
                i, start, end = int(e["i"]), int(e["start"]), int(e["end"])
                digest, link = bytes.fromhex(e["sha256"]), bytes.fromhex(e["chain"])
                sig = base64.b64decode(e["sig"], validate=True) if "sig" in e else None
                is_final = e.get("final", False) is True
                canonical = _entry(i, start, end, digest, link, sig, is_final) == raw
            except (ValueError, KeyError, TypeError, AttributeError):
                canonical = False
            if not canonical:
                return _bad(rec, count, False, covered, f"manifest line {line_no} is malformed",
                            base)
            name = segment_name(count, is_final)
            if final or i != count or start != covered or end < start:
                return _bad(rec, count, is_final, covered,
                            f"manifest line {line_no} is out of sequence", base)
            expect = _link(chain, digest, start, end, is_final)
            if expect != link:
                return _bad(rec, count, is_final, covered,
                            f"{name}: the manifest's chain is broken at line {line_no}", base)
            if verifier is not None:
                try:
                    verifier.verify(link, sig or b"")
                except (nacl.exceptions.BadSignatureError, ValueError):
                    return _bad(rec, count, is_final, covered,
                                f"{name}: bad signature at manifest line {line_no}", base)
            if end > size:
                return _bad(rec, count, is_final, covered,
                            f"{name} (bytes {start}-{end}) is missing: the file is only {size} "
                            "bytes (truncated)", base)
            if _hash_range(f, start, end) != digest:
                return _bad(rec, count, is_final, covered,
                            f"{name} (bytes {start}-{end}) was altered", base)
            chain, covered, final = link, end, is_final
            count += 1
    signer = (f"signed by key {kid}" + (" (trusted)" if trusted else
                                         " (not checked against a trusted key: --key)")
              if kid else "unsigned")
    if final and covered == size:
        return Verdict("intact", f"{rec}: intact: {count} segments, {size} bytes, {signer}",
                       segments=count, verified_bytes=covered, **base)  # type: ignore[arg-type]
    if final:
        return _bad(rec, count, True, covered,
                    f"{size - covered} bytes after the footer (byte {covered}) are not covered: "
                    "data was appended", base)
    last = segment_name(count - 1, False) if count else "nothing"
    return Verdict("torn", f"{rec}: torn: not closed by its recorder; intact up to {last}, "
                   f"byte {covered} of {size} ({size - covered} bytes after it unverified), "
                   f"{signer}", segments=count, verified_bytes=covered,
                   **base)  # type: ignore[arg-type]


def _bad(rec: Path, index: int, final: bool, covered: int, what: str,
         base: dict[str, Any]) -> Verdict:
    return Verdict("altered", f"{rec}: ALTERED: {what}", segments=index, verified_bytes=covered,
                   first_bad=index, **base)
