"""NMEA 0183 and UBX framing for the emulated receiver, written from the protocol documents.

The emulator does not use the driver's decoder or encoder (``sensekit.drivers.gps``): a framing
or checksum slip there must show up as a disagreement with this independent reading of the
documents, not be shared.

- NMEA 0183 (NMEA 0183 v4.10 sec. 5.2.1; u-blox M8 receiver description UBX-13003221 R24
  sec. 31.2.2): ``$`` + body + ``*`` + two upper-case hex digits of the XOR of every body byte
  + CR LF.
- UBX (u-blox M8 receiver description UBX-13003221 R24, sec. 32.2-32.4): sync 0xB5 0x62, class,
  id, a little-endian length, the payload, and the 8-bit Fletcher checksum (CK_A, CK_B) over
  class through payload. Messages the emulator answers: CFG-PRT (0x06 0x00), CFG-RATE (0x06
  0x08), CFG-RXM (0x06 0x11), CFG-PM2 (0x06 0x3B), RXM-PMREQ (0x02 0x41), and on M9/M10
  CFG-VALSET (0x06 0x8A, u-blox M9 interface description UBX-19035940 sec. 3.10.29), answered
  by ACK-ACK (0x05 0x01) or ACK-NAK (0x05 0x00) carrying the class and id.
- CFG-VALSET keys (UBX-19035940 sec. 4.10): CFG-RATE-MEAS 0x30210001 (U2, ms), CFG-RATE-NAV
  0x30210002 (U2), CFG-PM-OPERATEMODE 0x20D00001 (E1: 0 full power, 1 PSMOO, 2 PSMCT),
  CFG-UART1-BAUDRATE 0x40520001 (U4); the value's size is in key bits 30:28 (1: one bit in a
  byte, 2: one byte, 3: two, 4: four, 5: eight).
"""

from __future__ import annotations

from dataclasses import dataclass

from .regs import Bits

__all__ = ["UbxMessage", "nmea", "nmea_lines", "parse_valset", "ubx", "ubx_messages"]

SYNC = b"\xb5\x62"
CLS_NAV_RXM, CLS_ACK, CLS_CFG = 0x02, 0x05, 0x06
RXM_PMREQ = 0x41
ACK_NAK, ACK_ACK = 0x00, 0x01
CFG_PRT, CFG_RATE, CFG_RXM, CFG_PM2, CFG_VALSET = 0x00, 0x08, 0x11, 0x3B, 0x8A
KEY_RATE_MEAS, KEY_RATE_NAV = 0x30210001, 0x30210002
KEY_PM_OPERATEMODE, KEY_UART1_BAUDRATE = 0x20D00001, 0x40520001
#: Key size code (bits 30:28) -> bytes of the value.
KEY_SIZE = Bits(0, 30, 28)
VALUE_BYTES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8}


def nmea(body: str) -> bytes:
    """One sentence with its checksum and CR LF."""
    check = 0
    for byte in body.encode("ascii"):
        check ^= byte
    return f"${body}*{check:02X}\r\n".encode("ascii")


def nmea_lines(buffer: bytearray) -> list[str]:
    """Complete sentences with a good checksum taken from ``buffer`` (bodies, no ``$``)."""
    out = []
    while b"\n" in buffer:
        line, _, rest = bytes(buffer).partition(b"\n")
        buffer[:] = rest
        text = line.strip().decode("ascii", "replace")
        if not text.startswith("$") or "*" not in text:
            continue
        body, _, given = text[1:].rpartition("*")
        check = 0
        for byte in body.encode("ascii", "replace"):
            check ^= byte
        if given.upper() == f"{check:02X}":
            out.append(body)
    return out


def _fletcher(data: bytes) -> bytes:
    a = b = 0
    for byte in data:
        a = (a + byte) % 256
        b = (b + a) % 256
    return bytes([a, b])


def ubx(cls: int, msg_id: int, payload: bytes = b"") -> bytes:
    """One UBX frame."""
    body = bytes([cls, msg_id]) + len(payload).to_bytes(2, "little") + payload
    return SYNC + body + _fletcher(body)


@dataclass(frozen=True)
class UbxMessage:
    cls: int
    msg_id: int
    payload: bytes


def ubx_messages(buffer: bytearray) -> tuple[bytes, list[UbxMessage]]:
    """Frames with a good checksum taken from ``buffer``; the bytes that were not UBX are
    returned (text for the NMEA side). An incomplete frame stays in ``buffer``."""
    text, frames = bytearray(), list[UbxMessage]()
    while True:
        start = buffer.find(SYNC)
        if start < 0:
            keep = 1 if buffer[-1:] == SYNC[:1] else 0
            text += buffer[:len(buffer) - keep]
            del buffer[:len(buffer) - keep]
            return bytes(text), frames
        text += buffer[:start]
        del buffer[:start]
        if len(buffer) < 8:
            return bytes(text), frames
        length = int.from_bytes(buffer[4:6], "little")
        if len(buffer) < 8 + length:
            return bytes(text), frames
        frame, rest = bytes(buffer[:8 + length]), buffer[8 + length:]
        buffer[:] = rest
        if _fletcher(frame[2:6 + length]) == frame[6 + length:]:
            frames.append(UbxMessage(frame[2], frame[3], frame[6:6 + length]))


def parse_valset(payload: bytes) -> dict[int, int]:
    """Key -> value of a CFG-VALSET payload (version 0: version, layers, two reserved bytes,
    then key/value pairs).

    Raises:
        ValueError: a key with an unknown size, or a value cut short.
    """
    items, pos = {}, 4
    while pos < len(payload):
        key = int.from_bytes(payload[pos:pos + 4], "little")
        size = VALUE_BYTES.get(KEY_SIZE.of(key))
        if size is None or pos + 4 + size > len(payload):
            raise ValueError(f"bad CFG-VALSET item at byte {pos}")
        items[key] = int.from_bytes(payload[pos + 4:pos + 4 + size], "little")
        pos += 4 + size
    return items
