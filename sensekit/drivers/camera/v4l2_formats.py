"""List a V4L2 capture device's pixel formats and frame sizes (VIDIOC_ENUM_FMT/FRAMESIZES).

OpenCV cannot list a camera's formats, so they are asked of the kernel directly. Struct layouts
and request numbers are those of ``linux/videodev2.h`` (``_IOWR('V', 2, struct v4l2_fmtdesc)``,
``_IOWR('V', 74, struct v4l2_frmsizeenum)``), the same on 32- and 64-bit ARM.
"""

from __future__ import annotations

import errno
import os
import struct

__all__ = ["VIDIOC_ENUM_FMT", "VIDIOC_ENUM_FRAMESIZES", "enum_formats", "fourcc_text"]

Size = tuple[int, int]

_FMTDESC = struct.Struct("=III32sII3I")  # index, type, flags, description, pixelformat, mbus
_FRMSIZE = struct.Struct("=III6I2I")  # index, pixel_format, type, union (6 x u32), reserved
VIDIOC_ENUM_FMT = (3 << 30) | (_FMTDESC.size << 16) | (ord("V") << 8) | 2
VIDIOC_ENUM_FRAMESIZES = (3 << 30) | (_FRMSIZE.size << 16) | (ord("V") << 8) | 74
_BUF_TYPE_VIDEO_CAPTURE = 1
_FRMSIZE_TYPE_DISCRETE = 1
#: Stepwise/continuous ranges are sampled at these usual sizes inside the range.
_RANGE_SIZES: tuple[Size, ...] = ((160, 120), (320, 240), (640, 480), (1280, 720),
                                  (1920, 1080))


def fourcc_text(code: int) -> str:
    """``0x56595559`` -> ``"YUYV"``."""
    return "".join(chr((code >> 8 * i) & 0xFF) for i in range(4))


def _ioctl(fd: int, request: int, buffer: bytearray) -> bool:
    """Run one enumeration ioctl; False when the index ran past the end (EINVAL)."""
    import fcntl

    try:
        fcntl.ioctl(fd, request, buffer)
    except OSError as exc:
        if exc.errno == errno.EINVAL:
            return False
        raise
    return True


def _sizes(fd: int, pixelformat: int) -> list[Size]:
    sizes: list[Size] = []
    for index in range(256):
        buf = bytearray(_FRMSIZE.pack(index, pixelformat, 0, *([0] * 8)))
        if not _ioctl(fd, VIDIOC_ENUM_FRAMESIZES, buf):
            break
        fields = _FRMSIZE.unpack(buf)
        kind, union = fields[2], fields[3:9]
        if kind == _FRMSIZE_TYPE_DISCRETE:
            sizes.append((union[0], union[1]))
            continue
        min_w, max_w, _, min_h, max_h, _ = union  # stepwise or continuous: one entry
        sizes += [s for s in _RANGE_SIZES if min_w <= s[0] <= max_w and min_h <= s[1] <= max_h]
        break
    return sorted(set(sizes), key=lambda s: (s[0] * s[1], s))


def enum_formats(path: str) -> dict[str, list[Size]]:
    """Frame sizes per pixel format (``{"YUYV": [...], "MJPG": [...]}``), smallest first.

    Raises:
        OSError: the node cannot be opened or is not a V4L2 capture device (ENOTTY).
    """
    fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
    try:
        formats: dict[str, list[Size]] = {}
        for index in range(64):
            buf = bytearray(_FMTDESC.pack(index, _BUF_TYPE_VIDEO_CAPTURE, 0, b"", 0, 0, 0, 0, 0))
            if not _ioctl(fd, VIDIOC_ENUM_FMT, buf):
                break
            pixelformat = _FMTDESC.unpack(buf)[4]
            formats[fourcc_text(pixelformat)] = _sizes(fd, pixelformat)
        return formats
    finally:
        os.close(fd)
