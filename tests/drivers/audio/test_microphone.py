"""Microphone driver on sounddevice (faked at the module boundary), files and emulated scenes."""

from __future__ import annotations

import logging
import sys
import threading

import numpy as np
import pytest
import soundfile

import sensekit
from sensekit.clock import FakeClock
from sensekit.driver import ReaderThread
from sensekit.drivers.audio.microphone import Microphone
from sensekit.errors import (
    ConfigError,
    DeviceClosed,
    DeviceIOError,
    DeviceNotFound,
    DriverUnavailable,
    SampleDropped,
)
from sensekit.packets import concat
from sensekit.testing.audio_scenes import AudioSceneEmulator


def tone(rate: int, n: int, hz: float = 1000.0, amp: float = 0.5, start: int = 0) -> np.ndarray:
    t = (start + np.arange(n)) / rate
    return (amp * np.sin(2 * np.pi * hz * t)).astype(np.float32)[:, None]


def test_device_chosen_by_name_and_unsupported_rate_resampled(fake_sd, clock, caplog) -> None:
    caplog.set_level(logging.INFO)
    mic = Microphone("mic://usb pnp?rate=16000&blocksize=480", clock=clock).open()
    stream = fake_sd.streams[-1]
    assert stream.settings["device"] == 1
    assert stream.settings["samplerate"] == 48000  # the device has no 16 kHz mode
    assert "capturing at 48000 Hz and resampling" in caplog.text
    packets = []
    for b in range(100):  # one second
        clock.advance(0.010)
        stream.feed(tone(48000, 480, start=480 * b))
        packets.append(mic.read())
    pcm = concat(packets)["pcm"][:, 0].astype(np.float64) / 32768
    assert packets[0].meta["resampled_from_hz"] == 48000
    assert abs(len(pcm) - 16000) <= 1
    spectrum = np.abs(np.fft.rfft(pcm[1000:] * np.hanning(len(pcm) - 1000)))
    peak_hz = np.argmax(spectrum) * 16000 / (len(pcm) - 1000)
    assert abs(peak_hz - 1000) < 2
    assert np.sqrt(np.mean(pcm[1000:] ** 2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.01)
    mic.close()
    assert not stream.active and stream.closed


def test_native_rate_used_when_the_device_has_it(fake_sd, clock) -> None:
    with Microphone("mic://ReSpeaker?rate=16000", channels=4, clock=clock) as mic:
        stream = fake_sd.streams[-1]
        assert stream.settings["samplerate"] == 16000 and stream.settings["channels"] == 4
        block = np.tile(tone(16000, 1024), (1, 4))
        clock.advance(0.064)
        stream.feed(block)
        packet = mic.read()
    assert packet.meta["resampled_from_hz"] is None
    np.testing.assert_array_equal(packet["pcm"], np.round(block * 32768).astype(np.int16))


def test_device_by_index_and_float32(fake_sd, clock) -> None:
    mic = sensekit.open("audio", "mic://2?rate=16000", dtype="float32", clock=clock)
    clock.advance(0.064)
    fake_sd.streams[-1].feed(tone(16000, 1024))
    packet = mic.read()
    assert packet["pcm"].dtype == np.float32 and packet.validate() is packet
    np.testing.assert_allclose(packet["pcm"], tone(16000, 1024))


@pytest.mark.parametrize("device, words", [
    ("webcam", ["'webcam' matches no input device", "1: USB PnP Sound Device",
                "2: ReSpeaker 4 Mic Array", "3: default"]),
    ("hw:", ["matches several input devices"]),
    ("0", ["no input device with index 0", "1: USB PnP"]),
])
def test_device_not_found_lists_the_devices(fake_sd, clock, device, words) -> None:
    with pytest.raises(DeviceNotFound) as err:
        Microphone(f"mic://{device}", clock=clock).open()
    for word in words:
        assert word in str(err.value)
    assert "bcm2835" not in str(err.value)  # output-only devices are not offered


def test_default_device(fake_sd, clock) -> None:
    Microphone("mic://", clock=clock).open()
    assert fake_sd.streams[-1].settings["device"] == 3
    assert fake_sd.streams[-1].settings["samplerate"] == 16000


def test_missing_sounddevice_is_reported_at_open(monkeypatch, clock) -> None:
    monkeypatch.setitem(sys.modules, "sounddevice", None)
    mic = Microphone("mic://", clock=clock)  # creating it needs nothing
    with pytest.raises(DriverUnavailable, match=r"sensekit\[audio\]"):
        mic.open()


def test_overflow_counted_and_timestamps_continue(fake_sd, clock) -> None:
    mic = Microphone("mic://default?rate=16000&blocksize=160", clock=clock).open()
    stream = fake_sd.streams[-1]
    for b in range(20):
        clock.advance(0.010)
        stream.feed(tone(16000, 160, start=160 * b), overflow=(b == 10))
    with pytest.warns(SampleDropped, match="overflow"):
        packets = [mic.read() for _ in range(20)]
    assert mic.stats.dropped == 160 and mic.stats.dropped_estimated
    t = concat(packets).t_ns
    gaps = np.diff(t)
    assert gaps.max() == pytest.approx(161 * 62_500, rel=0.02)  # the lost block shows as a gap
    assert np.all(gaps > 0)


def test_timestamps_follow_a_drifting_usb_clock(fake_sd) -> None:
    """Blocks arrive with jitter from a device clock 100 ppm fast; stamps follow the device."""
    clock = FakeClock(0)
    mic = Microphone("mic://2?rate=16000&blocksize=256", clock=clock).open()
    stream = fake_sd.streams[-1]
    rng = np.random.default_rng(1)
    true_period = 1e9 / (16000 * (1 + 100e-6))
    packets = []
    for b in range(1, 1500):  # 24 s
        clock.set_ns(round(b * 256 * true_period + rng.uniform(0, 3e6)))  # late by 0..3 ms
        stream.feed(np.zeros((256, 1), np.float32))
        packets.append(mic.read())
    t = concat(packets).t_ns
    slope = np.polyfit(np.arange(len(t) // 2, len(t)), t[len(t) // 2:], 1)[0]
    assert slope == pytest.approx(true_period, rel=20e-6)
    truth = np.arange(1, len(t) + 1) * true_period
    assert np.abs(t[-5000:] - truth[-5000:]).max() < 1.5e6  # within 1.5 ms, not 2.4 ms drift


def test_unplugged_microphone_ends_the_stream(fake_sd, clock, caplog) -> None:
    mic = Microphone("mic://USB?rate=48000&blocksize=480", clock=clock, timeout_s=0.01).open()
    other = Microphone("emu://?scene=speech&native=48000", rate_hz=48000, clock=clock).open()
    stream = fake_sd.streams[-1]
    for _ in range(3):
        stream.feed(tone(48000, 480))
    stream.unplug()
    got = list(mic)
    assert len(got) == 3
    assert isinstance(mic.error, DeviceIOError)
    assert "USB PnP Sound Device" in str(mic.error) and "unplugged" in str(mic.error)
    assert mic.ended and not mic.is_open and mic.stats.io_errors >= 1
    assert "stream ended" in caplog.text
    with pytest.raises(DeviceClosed):
        mic.read()
    clock.advance(0.1)
    assert other.read() is not None  # nothing else stopped


def test_unplugged_emulated_microphone_in_a_reader_thread(clock) -> None:
    emu = AudioSceneEmulator("street", clock=clock)
    mic = Microphone("emu://", emulator=emu, clock=clock, timeout_s=0.05)
    emu_packets: list[object] = []
    got = threading.Event()

    def sink(packet: object) -> None:
        emu_packets.append(packet)
        got.set()

    reader = ReaderThread(mic, sink, max_backoff_s=0.01).start()
    assert got.wait(5)
    emu.unplug()
    assert reader._thread is not None
    reader._thread.join(5)
    assert not reader._thread.is_alive()  # ended cleanly, by itself
    assert any("disappeared" in e for e in reader.errors)
    assert mic.error is not None and "Emulated USB microphone" in str(mic.error)


def test_emulated_scene_rate_loss_and_rate_change(clock) -> None:
    emu = AudioSceneEmulator("speech", clock=clock, buffer_blocks=4)
    mic = Microphone("emu://", emulator=emu, blocksize=480, clock=clock).open()
    packets = [mic.read() for _ in range(100)]  # reads wait for the emulated blocks
    n = sum(len(p) for p in packets)
    assert n == pytest.approx(100 * 160, abs=2)
    assert packets[0].meta["native_rate_hz"] == 48000
    clock.advance(1.0)  # reader stalls: the 4-block buffer holds 40 ms of the 1 s
    with pytest.warns(SampleDropped):
        late = mic.read()
    assert mic.stats.dropped == 48000 - 4 * 480
    assert not mic.stats.dropped_estimated
    assert late.t_ns[0] - packets[-1].t_ns[-1] == pytest.approx(0.96e9, rel=0.01)
    assert mic.set_rate(8000) == 8000
    p = mic.read()
    assert p.meta["resampled_from_hz"] == 48000 and len(p) == 80


def test_emulated_rate_refused_natively_is_resampled(clock) -> None:
    mic = sensekit.open("audio", "emu://?scene=silence&native=44100", rate_hz=22050,
                        clock=clock)
    p = mic.read()
    assert p.meta == {"native_rate_hz": 44100, "resampled_from_hz": 44100, "dtype": "int16"}
    rms_dbfs = 20 * np.log10(np.sqrt(np.mean(p["pcm"][20:].astype(float) ** 2)) / 32768)
    assert -80 < rms_dbfs < -70  # the emulated microphone's self-noise (-75 dBFS)


def test_sleep_and_wake(clock) -> None:
    mic = sensekit.open("audio", "emu://?scene=vehicle", clock=clock)
    assert mic.read() is not None
    mic.sleep()
    assert mic.read(timeout_s=0.1) is None
    mic.wake()
    assert len(mic.read()) > 0
    assert [c.new for c in mic.changes] == ["asleep", "awake"]


def test_file_source_resampled_with_frame_count_stamps(tmp_path, clock) -> None:
    path = tmp_path / "two.wav"
    stereo = np.hstack([tone(44100, 44100, 440), tone(44100, 44100, 880, 0.25)])
    soundfile.write(path, stereo, 44100, subtype="PCM_16")
    mic = Microphone(str(path), rate_hz=16000, dtype="float32", clock=clock).open()
    packets = list(mic)
    assert mic.ended and mic.channels == 2
    pcm = concat(packets)["pcm"]
    assert pcm.shape[1] == 2 and abs(len(pcm) - 16000) <= 1
    rms = np.sqrt(np.mean(pcm[500:-500] ** 2, axis=0))
    np.testing.assert_allclose(rms, [0.5 / np.sqrt(2), 0.25 / np.sqrt(2)], rtol=0.01)
    t = concat(packets).t_ns
    np.testing.assert_allclose(np.diff(t), 62_500, atol=1)


def test_file_urls_must_name_audio(tmp_path, clock) -> None:
    with pytest.raises(ConfigError, match="mic://"):
        Microphone("/dev/snd/pcmC1D0c", clock=clock)
    with pytest.raises(DeviceNotFound, match=r"missing\.wav"):
        Microphone(f"file://{tmp_path}/missing.wav", clock=clock).open()
