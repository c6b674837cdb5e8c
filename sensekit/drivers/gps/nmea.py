"""A streaming NMEA 0183 sentence reader: bytes in, checked sentences out.

:class:`NmeaReader` takes whatever a serial read returned (split and partial lines across reads
are joined), verifies each sentence's checksum, and hands out :class:`Sentence` objects holding
the raw fields as bytes. Nothing is converted here: the epoch assembler
(:mod:`sensekit.drivers.gps.epoch`) converts only the values that end up in a fix, once per
epoch, which keeps the reader fast (checksums of a whole read are computed at once with numpy).

What is rejected is counted in :attr:`NmeaReader.stats` by reason, never raised:

- ``bad_checksum``: the ``*HH`` checksum does not match the sentence;
- ``no_checksum``: no ``*HH`` at the end (the comparison recipe of gpsd drops those too);
- ``too_long``: longer than gpsd's 130-character limit (counted from ``$`` to the checksum);
- ``garbage``: bytes that are not part of any sentence (binary protocols, line noise), counted
  in bytes in :attr:`ReaderStats.garbage_bytes` and as one rejection per run of junk.

Vendor (``$P...``) and unknown sentences with a good checksum are accepted and passed on raw.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

__all__ = ["MAX_SENTENCE", "NmeaReader", "ReaderStats", "Sentence", "checksum", "sentence"]

#: gpsd's limit on one sentence, from ``$`` to the end of the checksum, in characters.
MAX_SENTENCE = 130

_HEX = np.full(256, -1, np.int16)
for _i, _c in enumerate(b"0123456789ABCDEF"):
    _HEX[_c] = _i
for _i, _c in enumerate(b"abcdef"):
    _HEX[_c] = 10 + _i
_HEXVAL: dict[bytes, int] = {f"{i:02X}".encode(): i for i in range(256)}
_HEXVAL.update({f"{i:02x}".encode(): i for i in range(256)})


def checksum(body: bytes) -> int:
    """XOR of ``body``'s bytes: the NMEA checksum of the text between ``$`` and ``*``."""
    x = int.from_bytes(body, "little")
    bits = len(body) * 8
    while bits > 8:
        half = ((bits // 8 + 1) // 2) * 8
        x = (x >> half) ^ (x & ((1 << half) - 1))
        bits = half
    return x


def sentence(body: str) -> bytes:
    """A complete sentence ``$body*HH\\r\\n`` for ``body`` (``"GPGGA,..."``)."""
    raw = body.encode("ascii")
    return b"$%s*%02X\r\n" % (raw, checksum(raw))


class Sentence:
    """One sentence with a good checksum; fields are split only when asked for.

    Attributes:
        body: The text between ``$`` and ``*`` as bytes (``b"GPGGA,202640.000,..."``).
        t_ns: Host monotonic time of the sentence's first byte (``$``).
    """

    __slots__ = ("body", "t_ns")

    def __init__(self, body: bytes, t_ns: int) -> None:
        self.body = body
        self.t_ns = t_ns

    @property
    def fields(self) -> list[bytes]:
        """Comma-separated fields; ``fields[0]`` is the address, ``fields[n]`` NMEA's field n."""
        return self.body.split(b",")

    @property
    def address(self) -> str:
        """``"GPGGA"``, ``"PMTK001"``."""
        return self.body.partition(b",")[0].decode("ascii", "replace")

    @property
    def proprietary(self) -> bool:
        """Whether this is a vendor sentence (``$P...``)."""
        return self.body[:1] == b"P"

    @property
    def talker(self) -> str:
        """Two-letter talker (``"GP"``, ``"GN"``...), ``"P"`` for vendor sentences."""
        return "P" if self.proprietary else self.address[:2]

    @property
    def kind(self) -> str:
        """Sentence type (``"GGA"``); for vendor sentences the address after ``P``."""
        return self.address[1:] if self.proprietary else self.address[2:]

    @property
    def raw(self) -> bytes:
        """The sentence as it was received, without CR LF."""
        if self.body[:1] == b"!":
            return b"%s*%02X" % (self.body, checksum(self.body[1:]))
        return b"$%s*%02X" % (self.body, checksum(self.body))

    def __repr__(self) -> str:
        return f"Sentence({self.raw.decode('ascii', 'replace')!r}, t_ns={self.t_ns})"


@dataclass
class ReaderStats:
    """What the reader saw: sentences read, accepted, rejected by reason, junk bytes."""

    read: int = 0
    accepted: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    garbage_bytes: int = 0

    def reject(self, reason: str, count: int = 1) -> None:
        self.rejected[reason] = self.rejected.get(reason, 0) + count

    def summary(self) -> str:
        """``"read 120, accepted 118, rejected 2 (bad_checksum 2)"``."""
        rej = sum(self.rejected.values())
        why = ", ".join(f"{k} {v}" for k, v in sorted(self.rejected.items()))
        text = f"read {self.read}, accepted {self.accepted}, rejected {rej}"
        return f"{text} ({why})" if why else text


class NmeaReader:
    """Splits a byte stream into checked sentences.

    Args:
        max_len: Longest accepted sentence (``$`` to checksum), in characters.
        comments: Skip lines starting with ``#`` (gpsd's capture headers) silently.
    """

    def __init__(self, max_len: int = MAX_SENTENCE, comments: bool = False) -> None:
        self.max_len = max_len
        self.comments = comments
        self.stats = ReaderStats()
        self._tail = b""
        self._tail_t = 0

    def reset(self) -> None:
        """Forget a partial line (after a reconnect: its end will never come)."""
        if self._tail:
            self._junk(len(self._tail))
        self._tail = b""

    def feed(self, data: bytes, t_ns: int = 0, byte_ns: int = 0) -> list[Sentence]:
        """Sentences completed by ``data``.

        Args:
            data: Bytes as read; may end in the middle of a sentence.
            t_ns: Host time when the last byte of ``data`` was read.
            byte_ns: Time one byte takes on the wire (10 bits at the baud rate), used to date
                each sentence's first byte; 0 where bytes arrive at once (sockets, files).

        Raises:
            TypeError: ``data`` is not bytes-like.
        """
        bodies, times = self.feed_bodies(data, t_ns, byte_ns)
        return [Sentence(b, t) for b, t in zip(bodies, times, strict=True)]

    def feed_bodies(self, data: bytes, t_ns: int = 0,
                    byte_ns: int = 0) -> tuple[list[bytes], list[int]]:
        """Like :meth:`feed`, but the sentence bodies and their times as two lists (faster)."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"NmeaReader.feed needs bytes, got {type(data).__name__}")
        data = bytes(data)
        if not data:
            return [], []
        n_tail = len(self._tail)
        buf = self._tail + data if n_tail else data
        lines = buf.split(b"\n")
        tail = lines.pop()
        out = self._lines(buf, lines, n_tail, t_ns, byte_ns) if lines else ([], [])
        if len(tail) > self.max_len:
            # A run without newline longer than any sentence: keep only a sentence start.
            at = max(tail.rfind(b"$", len(tail) - self.max_len), 0)
            self._junk(at or len(tail))
            tail = tail[at:] if at else b""
        if tail and (lines or not n_tail):
            self._tail_t = t_ns - (len(tail) - 1) * byte_ns
        self._tail = tail
        return out

    def _lines(self, buf: bytes, lines: list[bytes], n_tail: int, t_ns: int,
               byte_ns: int) -> tuple[list[bytes], list[int]]:
        starts, stops, ok = self._check_all(buf, len(lines))
        bodies = [line[1:stop] if good else None
                  for line, stop, good in zip(lines, stops, ok, strict=True)]
        total = len(buf)
        if byte_ns == 0 and n_tail == 0:
            times = [t_ns] * len(lines)
        else:
            tail_t = self._tail_t
            times = [t_ns - (total - 1 - s) * byte_ns if s >= n_tail else tail_t
                     for s in starts]
        if all(ok):
            self.stats.read += len(bodies)
            self.stats.accepted += len(bodies)
            return bodies, times  # type: ignore[return-value]
        good = 0
        out_b: list[bytes] = []
        out_t: list[int] = []
        for line, body, t in zip(lines, bodies, times, strict=True):
            if body is None:
                if not line or line == b"\r":
                    continue
                body = self._slow(line)
                if body is None:
                    continue
            else:
                good += 1
            out_b.append(body)
            out_t.append(t)
        self.stats.read += good
        self.stats.accepted += good
        return out_b, out_t

    def _check_all(self, buf: bytes, n: int) -> tuple[list[int], list[int], list[bool]]:
        """Line starts, body ends within each line, and whether each line is a well-formed
        sentence, all lines checked at once."""
        arr = np.frombuffer(buf + bytes(8), np.uint8)    # padded: rejected lines index 0..4
        nl: npt.NDArray[np.intp] = np.flatnonzero(arr == 10)[:n]
        starts = np.empty_like(nl)
        starts[0] = 0
        starts[1:] = nl[:-1] + 1
        prev = np.maximum(nl - 1, 0)
        ends = nl - ((arr[prev] == 13) & (nl > starts))
        length = ends - starts
        fits = (length >= 6) & (length <= self.max_len)
        s = np.where(fits, starts, 0)
        e = np.where(fits, ends, 4)
        acc = np.bitwise_xor.accumulate(arr)
        hi = _HEX[arr[e - 2]]
        lo = _HEX[arr[e - 1]]
        ok = (fits & (arr[s] == 36) & (arr[e - 3] == 42)
              & (hi >= 0) & (lo >= 0) & ((acc[e - 4] ^ acc[s]) == (hi * 16 + lo)))
        return starts.tolist(), (e - 3 - s).tolist(), ok.tolist()

    def _slow(self, line: bytes) -> bytes | None:
        """Classify a line that failed the fast check; recover a sentence after junk."""
        line = line.rstrip(b"\r")
        if self.comments and line[:1] == b"#":
            return None
        at = max(line.rfind(b"$"), line.rfind(b"!"))
        if at < 0:
            self._junk(len(line))
            return None
        if at > 0:
            self._junk(at)
            line = line[at:]
        self.stats.read += 1
        if len(line) > self.max_len:
            self.stats.reject("too_long")
            return None
        star = line.rfind(b"*")
        if star < 0 or len(line) - star != 3:
            self.stats.reject("no_checksum")
            return None
        given = _HEXVAL.get(line[star + 1:])
        body = line[1:star]
        if given is None or checksum(body) != given:
            self.stats.reject("bad_checksum")
            return None
        self.stats.accepted += 1
        # "!" starts encapsulated sentences (AIS): kept with their mark, never decoded as fixes.
        return b"!" + body if line[:1] == b"!" else body

    def _junk(self, n: int) -> None:
        self.stats.garbage_bytes += n
        self.stats.reject("garbage")
