"""Ways to reach a :class:`~sensekit.testing.gps_receiver.GpsReceiverEmulator`.

- :class:`EmulatorLink`: in process, the driver's stand-in for a serial port, driven by the
  emulator's clock (a fake clock in tests jumps from burst to burst);
- :class:`EmulatorServer`: a real pseudo-terminal or a TCP socket served from a thread on real
  time, which can be unplugged and plugged back in (a pty returns under a new name).
"""

from __future__ import annotations

import os
import select
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .gps_receiver import GpsReceiverEmulator

__all__ = ["EmulatorLink", "EmulatorServer"]


class EmulatorServer:
    """Serves an emulator on a pty or a socket from a thread, on real time."""

    def __init__(self, emu: GpsReceiverEmulator, kind: str, stable: str | Path | None) -> None:
        self.emu = emu
        self.kind = kind
        self.stable = Path(stable) if stable is not None else None
        self._fds: list[int] = []
        self._listener: socket.socket | None = None
        self._client: socket.socket | None = None
        self._port = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        where = self.replug()
        self._thread = threading.Thread(target=self._run, name="gps-emulator", daemon=True)
        self._thread.start()
        return where

    def replug(self) -> str:
        if self.kind == "pty":
            import tty

            spare = os.openpty() if self._thread is not None else None
            master, slave = os.openpty()      # with the spare held, not the old name again
            for fd in spare or ():
                os.close(fd)
            tty.setraw(slave)
            self._fds = [master, slave]
            path = os.ttyname(slave)
            if self.stable is not None:
                if self.stable.is_symlink():
                    self.stable.unlink()
                self.stable.symlink_to(path)
                return str(self.stable)
            return path
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self._port))
        self._port = listener.getsockname()[1]
        listener.listen(1)
        self._listener = listener
        return f"socket://127.0.0.1:{self._port}"

    def unplug(self) -> None:
        fds, self._fds = self._fds, []
        for fd in fds:
            os.close(fd)
        if self.stable is not None and self.stable.is_symlink():
            self.stable.unlink()
        for sock in (self._client, self._listener):
            if sock is not None:
                sock.close()
        self._client = self._listener = None

    def _endpoint(self) -> tuple[Callable[[bytes], Any], Any] | None:
        if self._fds:
            master = self._fds[0]
            return (lambda data: os.write(master, data)), master
        if self._client is not None:
            client = self._client
            return client.sendall, client
        if self._listener is not None:
            ready, _, _ = select.select([self._listener], [], [], 0.01)
            if ready:
                self._client, _ = self._listener.accept()
        return None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._step()
            except OSError:
                self._client = None          # the host side went away; wait for the next
                self._stop.wait(0.01)

    def _step(self) -> None:
        endpoint = self._endpoint()
        if endpoint is None:
            self._stop.wait(0.01)
            return
        send, handle = endpoint
        data = self.emu.take_due(self.emu.clock.now_ns())
        if data:
            send(data)
        wait = (self.emu.next_due_ns() - self.emu.clock.now_ns()) / 1e9
        ready, _, _ = select.select([handle], [], [], min(max(wait, 0.0), 0.02))
        if ready:
            got = os.read(handle, 4096) if isinstance(handle, int) else handle.recv(4096)
            if got:
                self.emu.write(got)
            elif not isinstance(handle, int):
                raise OSError("client closed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(1.0)
        self.unplug()


def garbled(data: bytes) -> bytes:
    """What a UART at the wrong baud rate makes of ``data``: bytes of framing noise (high-bit
    set here, so never a ``$`` or a line end)."""
    return bytes(0x80 | (b * 7 + 3) % 128 for b in data)


class EmulatorLink:
    """The driver's side of an in-process connection to an emulator (a serial port stand-in).

    ``read`` waits on the emulator's clock for the next thing the receiver sends, so on a
    :class:`~sensekit.clock.FakeClock` time jumps from burst to burst. The link has a baud rate
    of its own (the host's, set with :meth:`set_baud`): when it is not the receiver's, what is
    read is garbage and what is written is not understood.
    """

    byte_ns = 0
    connected = True

    def __init__(self, emulator: GpsReceiverEmulator) -> None:
        self.emulator = emulator
        self.clock = emulator.clock
        self.baud = emulator.baud
        self.reconnects = 0
        self._gap_ns: int | None = None

    def reconnected(self, gap_s: float) -> None:
        """The port went away for ``gap_s`` and came back (a USB adapter re-enumerated): what
        the receiver sent meanwhile is lost, and the driver is told of the gap once."""
        self.clock.sleep(gap_s)
        self.emulator.take_due(self.clock.now_ns())
        self.reconnects += 1
        self._gap_ns = round(gap_s * 1e9)

    def open(self) -> None:
        """Nothing to open: the receiver is in this process."""

    def _matched(self, data: bytes) -> bytes:
        return data if self.baud == self.emulator.baud else garbled(data)

    def read(self, timeout_s: float) -> bytes:
        now = self.clock.now_ns()
        data = self.emulator.take_due(now)
        if data:
            return self._matched(data)
        wait_ns = min(self.emulator.next_due_ns() - now, round(timeout_s * 1e9))
        if wait_ns > 0:
            self.clock.sleep(wait_ns / 1e9)
        return self._matched(self.emulator.take_due(self.clock.now_ns()))

    def write(self, data: bytes) -> bool:
        if self.baud == self.emulator.baud:
            self.emulator.write(data)
        else:
            self.emulator.activity()
        return True

    def set_baud(self, baud: int) -> None:
        self.baud = baud

    def reset_input(self) -> None:
        self.emulator.take_due(self.clock.now_ns())

    def take_gap(self) -> int | None:
        gap, self._gap_ns = self._gap_ns, None
        return gap

    def close(self) -> None:
        """Nothing to release."""
