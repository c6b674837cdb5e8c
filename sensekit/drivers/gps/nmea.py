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
- ``bad_character``: a byte that is not printable ASCII (NUL, control codes, 8-bit bytes)
  inside the sentence: NMEA 0183 sentences are printable text, and a NUL does not change an
  XOR checksum, so the checksum alone cannot catch it;
- ``garbage``: bytes that are not part of any sentence (binary protocols, line noise), counted
  in bytes in :attr:`ReaderStats.garbage_bytes` and as one rejection per run of junk.

Vendor (``$P...``) and unknown sentences with a good checksum are accepted and passed on raw.

The same bytes give the same sentences however they are split into reads, and the reader keeps
at most one sentence's worth of a line that has not ended (a stream without newlines, such as
``/dev/zero``, is counted as junk as it goes, in bounded memory).
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
#: Bytes a sentence may hold (printable ASCII); ``bytes.translate`` deletes them to find others.
_PRINTABLE = bytes(range(0x20, 0x7F))


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
        self._line_start = True   # whether the tail starts its line
        self._skip_line = False   # inside an overlong comment line: drop it to its newline

    def reset(self) -> None:
        """Forget a partial line (after a reconnect: its end will never come)."""
        if self._tail:
            self._junk(len(self._tail))
        self._tail = b""
        self._line_start = True
        self._skip_line = False

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
        n_tail, tail_t = len(self._tail), self._tail_t
        buf, lines, begin, stop, encap = self._scan(data, t_ns, byte_ns)
        if not len(begin):
            return [], []
        bodies = [buf[a:b] for a, b in zip(begin.tolist(), stop.tolist(), strict=True)]
        for i in np.flatnonzero(encap).tolist():
            # "!" starts encapsulated sentences (AIS): kept with their mark, never decoded.
            bodies[i] = b"!" + bodies[i]
        if byte_ns == 0 and n_tail == 0:
            return bodies, [t_ns] * len(bodies)
        # A sentence is dated by its line's first byte; one begun in an earlier read keeps the
        # time that read gave it.
        first = t_ns - (len(buf) - 1 - lines) * byte_ns
        return bodies, np.where(lines >= n_tail, first, tail_t).tolist()

    def feed_spans(self, data: bytes) -> tuple[bytes, npt.NDArray[np.int64],
                                                npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
        """The batch form of :meth:`feed_bodies` for captures (no host times).

        Returns the buffer the completed sentences lie in, the start and stop offsets of each
        body in it (``buf[start:stop]`` is what :meth:`feed_bodies` returns), and which are
        encapsulated (``!``) sentences. Same sentences, same counts, no bytes object per line.
        """
        buf, _, begin, stop, encap = self._scan(data, 0, 0)
        return buf, begin, stop, encap

    def _scan(self, data: bytes, t_ns: int, byte_ns: int) -> tuple[
            bytes, npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64],
            npt.NDArray[np.bool_]]:
        """The completed lines of tail + ``data``: the buffer, and for each sentence found
        its line's start, its body's start and stop, and whether it is encapsulated."""
        data = self._begin(data)
        n_tail = len(self._tail)
        buf = self._tail + data if n_tail else data
        end = buf.rfind(b"\n") + 1
        empty = np.zeros(0, np.int64)
        if end == 0:
            self._keep(buf, False, n_tail, t_ns, byte_ns)
            return buf, empty, empty, empty, np.zeros(0, bool)
        self._keep(buf[end:], True, n_tail, t_ns, byte_ns)
        starts, nl, stops, ok = self._check_all(buf, len(buf))
        begin, stop, encap = starts + 1, starts + stops, np.zeros(len(starts), bool)
        good = int(np.count_nonzero(ok))
        self.stats.read += good
        self.stats.accepted += good
        if good == len(ok):
            return buf, starts, begin, stop, encap
        keep = ok.copy()
        rest = ~ok & (nl > starts)                            # empty lines are nothing
        if self.comments:                                     # "#" lines: skipped, uncounted
            rest &= np.frombuffer(buf, np.uint8)[starts] != 35
        for i in np.flatnonzero(rest).tolist():
            span = self._slow_span(buf[starts[i]:nl[i]])
            if span is not None:
                keep[i] = True
                begin[i], stop[i], encap[i] = starts[i] + span[0], starts[i] + span[1], span[2]
        return buf, starts[keep], begin[keep], stop[keep], encap[keep]

    def _begin(self, data: bytes) -> bytes:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"NmeaReader.feed needs bytes, got {type(data).__name__}")
        data = bytes(data)
        return self._skip_comment(data) if self._skip_line and data else data

    def _keep(self, tail: bytes, new_line: bool, n_tail: int, t_ns: int, byte_ns: int) -> None:
        """Keep the line that has not ended (at most one sentence's worth of it)."""
        line_start = new_line or self._line_start
        if len(tail) > self.max_len:
            tail, line_start = self._trim(tail, line_start)
        if tail and (new_line or not n_tail):
            self._tail_t = t_ns - (len(tail) - 1) * byte_ns
        self._tail = tail
        self._line_start = line_start

    def _skip_comment(self, data: bytes) -> bytes:
        """Drop the rest of an overlong comment line (silently, as a whole one would be)."""
        nl = data.find(b"\n")
        if nl < 0:
            return b""
        self._skip_line = False
        self._line_start = True
        return data[nl + 1:]

    def _trim(self, tail: bytes, line_start: bool) -> tuple[bytes, bool]:
        """A line longer than any sentence, not ended yet: keep only what can still be one."""
        if line_start and self.comments and tail[:1] == b"#":
            self._skip_line = True
            return b"", True
        window = len(tail) - self.max_len
        at = max(tail.rfind(b"$", window), tail.rfind(b"!", window), 0)
        self._junk(at or len(tail))
        return (tail[at:], False) if at else (b"", False)

    def _check_all(self, buf: bytes, n: int) -> tuple[
            npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64],
            npt.NDArray[np.bool_]]:
        """Line starts, newline positions, body ends within each line, and whether each of
        the first ``n`` lines is a well-formed sentence, all lines checked at once."""
        arr = np.frombuffer(buf + bytes(8), np.uint8)    # padded: rejected lines index 0..4
        nl = np.flatnonzero(arr == 10)[:n]
        starts = np.empty_like(nl)
        starts[0] = 0
        starts[1:] = nl[:-1] + 1
        prev = np.maximum(nl - 1, 0)
        ends = nl - ((arr[prev] == 13) & (nl > starts))
        length = ends - starts
        fits = (length >= 6) & (length <= self.max_len)
        s = np.where(fits, starts, 0)
        e = np.where(fits, ends, 4)
        hi = _HEX[arr[e - 2]]
        lo = _HEX[arr[e - 1]]
        # XOR of each body (s+1 .. e-3), one reduction per line over increasing bounds (the
        # stretch between two bodies is reduced too, and short); an empty body XORs to 0.
        first = starts + 1
        last = np.where(fits, np.maximum(ends - 3, first), first)
        bounds = np.empty(2 * len(s), np.int64)
        bounds[0::2], bounds[1::2] = first, last
        xor = np.bitwise_xor.reduceat(arr, bounds)[0::2]
        xor[last <= first] = 0
        # Shifted down by 0x20 (wrapping), printable bytes are 0..0x5E and every other byte is
        # above: one maximum per line says whether any is not printable.
        bounds[1::2] = np.maximum(e, first)
        shifted = arr - np.uint8(0x20)
        worst = np.maximum.reduceat(shifted, bounds)[0::2]
        ok = (fits & (arr[s] == 36) & (arr[e - 3] == 42) & (worst <= 0x5E)
              & (hi >= 0) & (lo >= 0) & (xor == (hi * 16 + lo)))
        return starts, nl, e - 3 - s, ok

    def _slow_span(self, line: bytes) -> tuple[int, int, bool] | None:
        """Where the body of the sentence in ``line`` lies, and whether it is encapsulated
        (``!``), for a line that failed the fast check; None (counted) if there is none."""
        end = len(line.rstrip(b"\r"))
        if self.comments and line[:1] == b"#":
            return None
        at = max(line.rfind(b"$", 0, end), line.rfind(b"!", 0, end))
        if at < 0:
            if end:
                self._junk(end)
            return None
        if at > 0:
            self._junk(at)
        self.stats.read += 1
        if end - at > self.max_len:
            self.stats.reject("too_long")
            return None
        star = line.rfind(b"*", at, end)
        if star < 0 or end - star != 3:
            self.stats.reject("no_checksum")
            return None
        given = _HEXVAL.get(line[star + 1:end])
        body = line[at + 1:star]
        if body.translate(None, _PRINTABLE):
            self.stats.reject("bad_character")
            return None
        if given is None or checksum(body) != given:
            self.stats.reject("bad_checksum")
            return None
        self.stats.accepted += 1
        return at + 1, star, line[at:at + 1] == b"!"

    def _junk(self, n: int) -> None:
        self.stats.garbage_bytes += n
        self.stats.reject("garbage")
