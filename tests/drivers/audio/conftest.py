"""A fake ``sounddevice`` module: only the library boundary is faked, the driver runs as is."""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest


class PortAudioError(Exception):
    pass


@dataclass
class Status:
    input_overflow: bool = False

    def __bool__(self) -> bool:
        return self.input_overflow


class InputOutputPair:
    """Like sounddevice's ``default.device``: indexable, but not a sequence type."""

    def __init__(self, input_index: int, output_index: int) -> None:
        self._pair = (input_index, output_index)

    def __getitem__(self, index: int) -> int:
        return self._pair[index]


class FakeInputStream:
    """Records its settings; the test plays PortAudio by calling :meth:`feed`."""

    def __init__(self, owner: FakeSoundDevice, **settings: Any) -> None:
        self.settings = settings
        self.active = False
        self.closed = False
        self.owner = owner
        owner.streams.append(self)

    def start(self) -> None:
        self.active = True

    def stop(self) -> None:
        self.active = False

    def close(self) -> None:
        self.closed = True

    def feed(self, frames: np.ndarray, overflow: bool = False) -> None:
        callback: Callable[..., None] = self.settings["callback"]
        callback(frames.astype(np.float32), len(frames), None, Status(overflow))

    def unplug(self) -> None:
        """What PortAudio does when ALSA loses the device: the stream finishes."""
        self.active = False
        self.settings["finished_callback"]()


class FakeSoundDevice(types.ModuleType):
    """Devices as ``sounddevice.query_devices()`` lists them, with the rates each accepts."""

    def __init__(self) -> None:
        super().__init__("sounddevice")
        self.devices = [
            {"name": "bcm2835 Headphones: - (hw:0,0)", "max_input_channels": 0,
             "default_samplerate": 44100.0, "rates": (44100, 48000)},
            {"name": "USB PnP Sound Device: Audio (hw:1,0)", "max_input_channels": 1,
             "default_samplerate": 48000.0, "rates": (44100, 48000)},
            {"name": "ReSpeaker 4 Mic Array (hw:2,0)", "max_input_channels": 4,
             "default_samplerate": 16000.0, "rates": (16000,)},
            {"name": "default", "max_input_channels": 32, "default_samplerate": 44100.0,
             "rates": (8000, 16000, 44100, 48000)},
        ]
        self.default = types.SimpleNamespace(device=InputOutputPair(3, 0))
        self.streams: list[FakeInputStream] = []
        self.PortAudioError = PortAudioError

    def query_devices(self, device: int | None = None) -> Any:
        if device is None:
            return tuple(self.devices)
        return self.devices[device]

    def check_input_settings(self, device: int, channels: int, samplerate: float,
                             dtype: str) -> None:
        info = self.devices[device]
        if channels > info["max_input_channels"]:
            raise PortAudioError("Invalid number of channels [PaErrorCode -9998]")
        if int(samplerate) not in info["rates"]:
            raise PortAudioError("Invalid sample rate [PaErrorCode -9997]")

    def InputStream(self, **settings: Any) -> FakeInputStream:  # noqa: N802 (library name)
        return FakeInputStream(self, **settings)


@pytest.fixture
def fake_sd(monkeypatch: pytest.MonkeyPatch) -> FakeSoundDevice:
    sd = FakeSoundDevice()
    monkeypatch.setitem(sys.modules, "sounddevice", sd)
    return sd
