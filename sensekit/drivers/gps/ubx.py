"""u-blox UBX binary protocol: frames, checksums, the configuration messages the driver sends.

Frame (u-blox 8 / M8 Receiver Description, UBX-13003221, sec. 32.2 "UBX frame structure"):
``0xB5 0x62``, class, id, little-endian u16 payload length, payload, then CK_A, CK_B: an 8-bit
Fletcher checksum over class, id, length and payload (sec. 32.4). Every CFG message is answered
with UBX-ACK-ACK (0x05 0x01) or UBX-ACK-NAK (0x05 0x00) carrying the class and id it answers.

Two generations of configuration:

- legacy messages (M8 and older): UBX-CFG-RATE (0x06 0x08), UBX-CFG-RXM (0x06 0x11),
  UBX-CFG-PM2 (0x06 0x3B), UBX-CFG-PRT (0x06 0x00);
- configuration keys through UBX-CFG-VALSET (0x06 0x8A; M9, M10, F9): keys below, as listed in
  the u-blox M10 SPG 5.10 interface description (UBX-21035062), sec. 6.9 "Configuration reference".

Sleep is UBX-RXM-PMREQ (0x02 0x41, version 0 of the 16-byte form) with the UART RX line as wake-up
source; any byte on RX wakes the receiver, which then needs about 0.5 s before it talks again.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import NamedTuple

import numpy as np

__all__ = ["UbxFrame", "UbxSplitter", "frame", "ubx_checksum"]

SYNC = b"\xb5\x62"
#: Longest payload accepted from a receiver; longer "frames" are line noise.
MAX_PAYLOAD = 4096

CLS_ACK, ACK_NAK, ACK_ACK = 0x05, 0x00, 0x01
CLS_CFG, CFG_PRT, CFG_RATE, CFG_RXM, CFG_PM2, CFG_VALSET = 0x06, 0x00, 0x08, 0x11, 0x3B, 0x8A
CLS_RXM, RXM_PMREQ = 0x02, 0x41

# Configuration keys (UBX-21035062 sec. 6.9): size is in bits 28-30 of the key.
CFG_RATE_MEAS = 0x30210001        # U2, ms between measurements
CFG_RATE_NAV = 0x30210002         # U2, measurements per navigation solution
CFG_PM_OPERATEMODE = 0x20D00001   # E1: 0 full power, 1 PSMOO (on/off), 2 PSMCT (cyclic)
CFG_UART1_BAUDRATE = 0x40520001   # U4, bit/s
_KEY_SIZE = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8}
VALSET_RAM = 0x01                 # layer bit: apply now, forget at power-off


class UbxFrame(NamedTuple):
    """One checked UBX frame."""

    cls: int
    id: int
    payload: bytes


def ubx_checksum(body: bytes) -> bytes:
    """CK_A, CK_B of ``body`` (class, id, length and payload)."""
    a = b = 0
    for byte in body:
        a = (a + byte) & 0xFF
        b = (b + a) & 0xFF
    return bytes((a, b))


def frame(cls: int, msg_id: int, payload: bytes = b"") -> bytes:
    """A complete UBX frame."""
    body = struct.pack("<BBH", cls, msg_id, len(payload)) + payload
    return SYNC + body + ubx_checksum(body)


def cfg_rate(period_ms: int, nav_rate: int = 1, time_ref: int = 1) -> bytes:
    """UBX-CFG-RATE: measurement period, measurements per solution, time reference (1 GPS)."""
    return frame(CLS_CFG, CFG_RATE, struct.pack("<HHH", period_ms, nav_rate, time_ref))


def cfg_rxm(power_save: bool) -> bytes:
    """UBX-CFG-RXM: lpMode 0 continuous, 1 power save."""
    return frame(CLS_CFG, CFG_RXM, struct.pack("<BB", 0x08, 1 if power_save else 0))


def cfg_pm2(update_period_ms: int, search_period_ms: int = 10_000) -> bytes:
    """UBX-CFG-PM2 version 1 (44 bytes): cyclic tracking at ``update_period_ms``.

    flags: bit 12 updateEPH (keep ephemeris fresh), bits 17-18 mode = 1 (cyclic tracking).
    """
    flags = (1 << 12) | (1 << 17)
    payload = struct.pack("<BBBBIIIIHH20x", 0x01, 0, 0, 0, flags, update_period_ms,
                          search_period_ms, 0, 0, 0)
    return frame(CLS_CFG, CFG_PM2, payload)


def cfg_prt_uart1(baud: int) -> bytes:
    """UBX-CFG-PRT for UART1: 8N1 at ``baud``, UBX+NMEA in and out."""
    payload = struct.pack("<BBHIIHHHH", 1, 0, 0, 0x08D0, baud, 0x0003, 0x0003, 0, 0)
    return frame(CLS_CFG, CFG_PRT, payload)


def cfg_valset(items: Iterable[tuple[int, int]], layers: int = VALSET_RAM) -> bytes:
    """UBX-CFG-VALSET (version 0) of ``(key, value)`` pairs."""
    payload = bytearray(struct.pack("<BBH", 0, layers, 0))
    for key, value in items:
        size = _KEY_SIZE[(key >> 28) & 0x7]
        payload += struct.pack("<I", key) + int(value).to_bytes(size, "little")
    return frame(CLS_CFG, CFG_VALSET, bytes(payload))


def parse_valset(payload: bytes) -> dict[int, int]:
    """``{key: value}`` of a CFG-VALSET payload.

    Raises:
        ValueError: truncated or with a key of unknown size.
    """
    out: dict[int, int] = {}
    i = 4
    while i < len(payload):
        if i + 4 > len(payload):
            raise ValueError("truncated key")
        (key,) = struct.unpack_from("<I", payload, i)
        size = _KEY_SIZE.get((key >> 28) & 0x7)
        if size is None or i + 4 + size > len(payload):
            raise ValueError(f"bad key {key:#010x}")
        out[key] = int.from_bytes(payload[i + 4:i + 4 + size], "little")
        i += 4 + size
    return out


def rxm_pmreq(duration_ms: int = 0) -> bytes:
    """UBX-RXM-PMREQ: enter backup (inactive) until ``duration_ms`` (0: until woken) or UART RX."""
    backup, wake_uartrx = 0x02, 0x08
    payload = struct.pack("<B3xIII", 0, duration_ms, backup, wake_uartrx)
    return frame(CLS_RXM, RXM_PMREQ, payload)


def ack(acked: bool, cls: int, msg_id: int) -> bytes:
    """UBX-ACK-ACK or -NAK answering ``cls``/``msg_id`` (what a receiver sends)."""
    return frame(CLS_ACK, ACK_ACK if acked else ACK_NAK, bytes((cls, msg_id)))


class UbxSplitter:
    """Separates UBX frames from the NMEA text they are interleaved with on one port.

    ``feed`` returns the bytes that are not part of a UBX frame (for the NMEA reader) and the
    frames with a good checksum; frames with a bad one are counted in :attr:`bad_frames`.

    Time and memory stay linear in the input whatever it holds: at most one frame's worth of
    bytes (``8 + MAX_PAYLOAD``) waits for the next read, the input is scanned with a cursor
    rather than re-sliced, and checksums come from running sums over the whole read, so a
    stream of false frame starts costs O(1) each.
    """

    def __init__(self) -> None:
        self._buf = b""
        self.bad_frames = 0

    def feed(self, data: bytes) -> tuple[bytes, list[UbxFrame]]:
        buf = self._buf + data if self._buf else bytes(data)
        if SYNC[0] not in buf:
            self._buf = b""
            return buf, []
        text = bytearray()
        frames: list[UbxFrame] = []
        sums = _RunningSums(buf)
        i, n = 0, len(buf)
        while True:
            at = buf.find(SYNC, i)
            if at < 0:
                keep = 1 if n > i and buf[-1] == SYNC[0] else 0
                text += buf[i:n - keep]
                i = n - keep
                break
            text += buf[i:at]
            i = at
            if n - i < 6:
                break
            length = buf[i + 4] | buf[i + 5] << 8
            if length > MAX_PAYLOAD:
                text += buf[i:i + 2]
                i += 2
                continue
            if n - i < 8 + length:
                break
            if sums.checksum(i + 2, i + 6 + length) == buf[i + 6 + length:i + 8 + length]:
                frames.append(UbxFrame(buf[i + 2], buf[i + 3], buf[i + 6:i + 6 + length]))
                i += 8 + length
            else:
                self.bad_frames += 1
                text += buf[i:i + 2]
                i += 2
        self._buf = buf[i:]
        return bytes(text), frames


class _RunningSums:
    """CK_A and CK_B of any stretch of ``buf`` in O(1), from two running sums (computed on the
    first use): CK_A is the sum of the bytes, CK_B the sum of the partial sums."""

    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self._s1: list[int] | None = None
        self._s2: list[int] | None = None

    def checksum(self, a: int, b: int) -> bytes:
        if b - a < 64:                       # short frames: summing them is as cheap
            return ubx_checksum(self.buf[a:b])
        if self._s1 is None:
            x = np.frombuffer(self.buf, np.uint8).astype(np.int64)
            running = np.concatenate(([0], np.cumsum(x)))
            self._s1 = running.tolist()
            self._s2 = np.concatenate(([0], np.cumsum(running[1:]))).tolist()
        s1, s2 = self._s1, self._s2
        assert s2 is not None
        ck_a = s1[b] - s1[a]
        ck_b = s2[b] - s2[a] - (b - a) * s1[a]
        return bytes((ck_a & 0xFF, ck_b & 0xFF))
