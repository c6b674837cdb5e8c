"""The built-in modalities: the rig's sensors and what real phone recordings carry.

Each entry is the whole story of one modality (see :class:`~sensekit.modalities.Modality`).
Stream names are those sensekit's drivers and importers write: a rig's MPU-6050 delivers
``imu`` (accelerometer and gyroscope together), a phone export delivers ``accel``, ``gyro``,
``mag``, ``pressure``, ``sound`` and ``speed`` on their own (the transport-mode recordings,
:mod:`sensekit.log.importers`); a modality lists every stream it can come from.

Timing of the phone streams (the transport-mode corpus, 62 recordings; median of the
per-recording median interval, and the median of their 95th percentiles): light 2.7 s / 75 s
(Android reports it only when it changes), sound level 9 s / 37 s, GPS speed 34 s / 114 s,
pressure 46 s / 117 s (4 recordings), magnetometer 0.5 s / 2 s. Step signals are held for a
few of their typical intervals (``hold_s``) and no longer, so a sensor that stopped does not
look alive.
"""

from __future__ import annotations

from ..fusion.inputs import ModalityInput, Source
from . import Modality, PowerEntry, Score, TurnDown

__all__ = ["BUILTIN", "CYCLE_RATES", "DLPF_BANDWIDTHS_HZ", "NORMAL_RATES", "STATS_WINDOW_S"]

#: MPU-6050 DLPF_CFG 0-6 accelerometer bandwidths in Hz (MPU-6000/MPU-6050 Register Map and
#: Descriptions Rev 4.2, register 26 CONFIG, p. 13). A driver lowering the output rate picks
#: the widest bandwidth at or below half the new rate.
DLPF_BANDWIDTHS_HZ = (260.0, 184.0, 94.0, 44.0, 21.0, 10.0, 5.0)
#: The rates the simulator-trained network takes the IMU at.
IMU_RATES = (100.0, 50.0, 25.0)
#: MPU-6050 normal-mode rates the controller chooses from: 1 kHz / (1 + SMPLRT_DIV) with the
#: DLPF on reaches each exactly (Register Map Rev 4.2, register 25 SMPLRT_DIV, p. 11-12).
NORMAL_RATES = (100.0, 50.0, 25.0, 10.0, 5.0)
#: MPU-6050 accelerometer-only low-power cycle mode: LP_WAKE_CTRL wake-up frequencies; each
#: wake takes a single measurement (Register Map Rev 4.2, register 108 PWR_MGMT_2, p. 42).
CYCLE_RATES = (40.0, 20.0, 5.0, 1.25)
_IMU_LOW_POWER = ("accel_low_power", "wake_on_motion")

#: Window of the rate-free statistics (the published transport-mode method's 5 s).
STATS_WINDOW_S = 5.0
#: Vector streams are point-sampled to at most this rate, no filter, before their statistics
#: (sensekit.fusion.window_stats); a window with fewer samples than this lacks the modality.
_POINT = {"max_rate_hz": 20.0, "min_samples": 4}


def _stats(channels: int, rates: tuple[float, ...], *sources: Source,
           xyz: bool = False) -> ModalityInput:
    return ModalityInput("features", channels, rates, STATS_WINDOW_S, sources=sources,
                         encoder="stats", xyz=xyz)


_IMU_POWER = PowerEntry("mpu6050", device="imu")
_MICROPHONE = PowerEntry("usb_microphone", device="microphone")
_GPS = PowerEntry("ublox_m8", device="gps")
#: GPS duty cycles (on, period in s): each wake-up a hot start, charged from the GPS's table.
_GPS_DUTY = ((10.0, 60.0), (30.0, 300.0))

ACCEL = Modality(
    "accel",
    ModalityInput("series", 3, IMU_RATES, sources=(
        Source("imu", ("accel_mps2",)), Source("accel", ("accel_mps2",))), xyz=True),
    TurnDown("rate", modes=("accel_only", "accel_gyro"), standby="wake_on_motion",
             lowpass_hz=DLPF_BANDWIDTHS_HZ, keep_on=True,
             settings={"accel_only": NORMAL_RATES, "accel_gyro": NORMAL_RATES,
                       "accel_low_power": CYCLE_RATES},
             point_modes=_IMU_LOW_POWER),
    _IMU_POWER,
    # 0.4 m/s^2 of magnitude spread scores 0.5: a phone at rest shows 0.01-0.05 m/s^2 of
    # sensor noise, slow walking 1-2 m/s^2 (gait peaks of 0.2-0.5 g)
    Score("norm_spread", "motion", {"half": 0.4}),
    "accelerometer, m/s^2, gravity included, body frame",
    _stats(14, IMU_RATES, Source("imu", ("accel_mps2",), "accel_stats", _POINT),
           Source("accel", ("accel_mps2",), "accel_stats", _POINT), xyz=True))

GYRO = Modality(
    "gyro",
    ModalityInput("series", 3, IMU_RATES, sources=(
        Source("imu", ("gyro_rads",)), Source("gyro", ("gyro_rads",))), xyz=True),
    TurnDown("rate", modes=("accel_gyro",), standby="wake_on_motion",
             lowpass_hz=DLPF_BANDWIDTHS_HZ, keep_on=True,
             settings={"accel_gyro": NORMAL_RATES}),
    _IMU_POWER, None, "gyroscope, rad/s, body frame",
    _stats(6, IMU_RATES, Source("imu", ("gyro_rads",), "gyro_stats", _POINT),
           Source("gyro", ("gyro_rads",), "gyro_stats", _POINT), xyz=True))

AUDIO = Modality(
    "audio",
    # log-mel frames at 50 frames/s (20 ms hop), 32 bands up to 4 kHz so 8 and 16 kHz
    # microphones agree
    ModalityInput("series", 32, (50.0,), sources=(Source("audio", ("pcm",), "logmel"),)),
    TurnDown("switch", modes=("on",), settings={"on": (50.0,)}), _MICROPHONE,
    # frames louder than -50 dBFS count as sound
    Score("sound_activity", "level", {"threshold_dbfs": -50.0}),
    "microphone as a log-mel spectrogram (the costly resolution of audio)")

SOUND_LEVEL = Modality(
    "sound_level",
    # The cheap resolution of the same microphone: a level a few times a second from a rig's
    # PCM, or the level a phone app logged (about every 10 s; its own dB scale, not dBFS)
    ModalityInput("lowrate", 1, (10.0, 1.0), sources=(
        Source("sound", ("sound_db",), "samples", hold_s=30.0),
        Source("sound_level", ("level_dbfs",), "samples", hold_s=30.0),
        Source("audio", ("pcm",), "pcm_level"))),
    # A level needs far less of the microphone than a spectrogram: a part with a low-power
    # mode (an I2S MEMS microphone at 8 kHz) runs in it; a USB dongle has only "on". The
    # level itself is computed on the host and charged as compute.
    TurnDown("switch", modes=("low_power", "on"),
             settings={"low_power": (10.0, 1.0), "on": (10.0, 1.0)}), _MICROPHONE,
    # 6 dB of range across the window scores 0.5: a voice or a passing vehicle
    Score("range", "change", {"half": 6.0}, streams=("sound", "sound_level")),
    "microphone as a sound level in dB, 0.1-10 Hz",
    # A phone app's dB is 20 log10 of the peak 16-bit amplitude (it saturates at 90 dB, as
    # one transport-mode phone does half of the time): dBFS + 90.3
    _stats(3, (10.0, 1.0), Source("sound", ("sound_db",), "level_stats", hold_s=30.0),
           Source("sound_level", ("level_dbfs",), "level_stats", {"offset_db": 90.3},
                  hold_s=30.0)))

CAMERA = Modality(
    "camera",
    ModalityInput("image", 3, (32.0, 16.0), sources=(Source("camera", ("image",), "frame"),)),
    # a DNN-size frame read in a binned readout, or (to compare) in full resolution
    TurnDown("size", modes=("dnn",), size_mode="dnn", photo_mode="photo",
             settings={"dnn": (32.0, 16.0), "photo": (32.0, 16.0)}),
    PowerEntry("pi_camera_v2", device="camera", frame_rate_hz=1.0),
    # a mean absolute difference of 8 grey levels between frames scores 0.5
    Score("frame_difference", "change", {"half": 8.0}),
    "camera in DNN mode, the newest frame of the window at 32 or 16 pixels square")

GPS = Modality(
    "gps",
    # speed (0 without a fix), HDOP (50 without a fix), satellites used, fix mode
    ModalityInput("lowrate", 4, (1.0,), sources=(Source(
        "gps", ("speed_mps", "hdop", "sats_used", "mode"), "samples",
        {"speed_mps": {"nan": 0.0}, "hdop": {"nan": 50.0, "max": 50.0}}),)),
    TurnDown("switch", modes=("continuous",), standby="power_save", economy="power_save",
             keep_on=True, settings={"continuous": (1.0,), "power_save": (1.0,)},
             duty_cycles=_GPS_DUTY),
    _GPS,
    # 1.5 m/s (a brisk walk) scores 0.5; a fix that came or went scores 1
    Score("speed_fix", "level", {"half": 1.5}),
    "GPS fix quality and speed over ground (position is not an input)")

GPS_SPEED = Modality(
    "gps_speed",
    ModalityInput("lowrate", 1, (1.0,), sources=(
        Source("speed", ("speed_mps",), "samples", {"speed_mps": {"nan": 0.0}}, hold_s=60.0),
        Source("gps", ("speed_mps",), "samples", {"speed_mps": {"nan": 0.0}}))),
    TurnDown("switch", modes=("continuous",), standby="power_save", economy="power_save",
             settings={"continuous": (1.0,), "power_save": (1.0,)}, duty_cycles=_GPS_DUTY),
    _GPS,
    Score("peak", "level", {"half": 1.5}),
    "GPS speed over ground without position (phone logs: a value every 30-40 s)",
    # a fix counts for 40 s after it (45 s before the window's end): "a recent fix"
    _stats(3, (1.0,), Source("speed", ("speed_mps",), "speed_stats", hold_s=40.0),
           Source("gps", ("speed_mps",), "speed_stats", hold_s=40.0)))

LIGHT = Modality(
    "light",
    # log10(1 + lux); Android reports light only when it changes: a sample stands until the
    # next (held up to two minutes), on a rig the sensor reports every second
    ModalityInput("lowrate", 1, (1.0,), sources=(Source(
        "light", ("lux",), "samples", {"lux": {"min": 0.0, "log10_1p": True}},
        hold_s=120.0),)),
    # BH1750 modes: continuous at high (1 lx) or low (4 lx) resolution, or one measurement
    # on demand that powers down after it (Rev.D, p. 5-6)
    TurnDown("switch", modes=("continuous_high",), keep_on=True,
             settings={"continuous_high": (1.0,), "continuous_low": (1.0,),
                       "one_time_high": (1.0, 0.2), "one_time_low": (1.0, 0.2)}),
    PowerEntry("bh1750", device="light"),
    # half a decade (300 lx indoors to 1,000 lx) scores 0.5
    Score("log_range", "change", {"half": 0.5}),
    "ambient light, lux",
    _stats(2, (1.0,), Source("light", ("lux",), "light_stats", hold_s=120.0)))

MAG = Modality(
    "mag",
    ModalityInput("series", 3, (10.0,), sources=(
        Source("mag", ("mag_ut",)), Source("imu", ("mag_ut",))), xyz=True),
    # AK8963: continuous measurement mode 2 (100 Hz), mode 1 (8 Hz), or single measurements the
    # host triggers (2 Hz); each sample one measurement, no filter (DS MS1356-E-02 sec. 6.4)
    TurnDown("rate", modes=("continuous",), settings={"continuous": (100.0, 8.0, 2.0)}),
    PowerEntry("ak8963", device="magnetometer"),
    # 5 uT of field-strength spread scores 0.5: steel and motors nearby (a car, a train)
    Score("norm_spread", "change", {"half": 5.0}),
    "magnetometer, uT, body frame",
    _stats(6, (10.0,), Source("mag", ("mag_ut",), "mag_stats", _POINT),
           Source("imu", ("mag_ut",), "mag_stats", _POINT), xyz=True))

PRESSURE = Modality(
    "pressure",
    # the change within the window (hPa about its mean): absolute pressure tells the weather
    # and the altitude, not how someone moves
    ModalityInput("lowrate", 1, (1.0,), sources=(Source(
        "pressure", ("pressure_hpa",), "samples", {"pressure_hpa": {"centre": True}},
        hold_s=120.0),)),
    # BMP280 normal mode with a standby time of 1 s or 4 s between measurements
    TurnDown("rate", modes=("normal",), settings={"normal": (1.0, 0.25)}),
    PowerEntry("bmp280", device="barometer"),
    # 0.3 hPa (about 2.5 m of height) across the window scores 0.5: stairs, a lift, a tunnel
    Score("range", "change", {"half": 0.3}),
    "barometric pressure, hPa")

ORIENTATION = Modality(
    "orientation",
    # The AHRS's gravity-free acceleration in the earth frame (ENU: east, north, up) at the
    # IMU rate: vertical bounce and horizontal push apart, whatever way the device is held.
    # Not a body-frame vector (xyz False): rotating it as training does for inertial axes
    # would mix up and horizontal.
    ModalityInput("series", 3, IMU_RATES, sources=(
        Source("orientation", ("linear_accel_mps2",)),)),
    # Computed from the IMU (sensekit.orientation.Ahrs): no part of its own; it is priced as
    # the IMU it comes from (one part with accel and gyro, charged once), its compute apart.
    TurnDown("switch"), _IMU_POWER,
    doc="gravity-free acceleration in the earth frame (ENU), m/s^2, from the AHRS")

NAV = Modality(
    "nav",
    # The GPS/IMU filter's speed over ground and horizontal position sigma, point-sampled at
    # 1 Hz from its IMU-rate output; a sigma before any fix (inf) reads as 1 km
    ModalityInput("lowrate", 2, (1.0,), sources=(Source(
        "nav", ("speed_mps", "pos_sigma_m"), "samples",
        {"max_rate_hz": 1.0, "speed_mps": {"nan": 0.0},
         "pos_sigma_m": {"nan": 1000.0, "max": 1000.0}}),)),
    # Computed from the IMU and the GPS fixes (sensekit.orientation.GpsImuFilter): between
    # fixes it runs on the IMU alone, so it is priced as the IMU; the GPS's wake-ups are
    # charged to the GPS stream that delivers them.
    TurnDown("switch"), _IMU_POWER,
    doc="GPS/IMU filter speed (m/s) and horizontal position sigma (m), kept through GPS gaps")

BUILTIN = (ACCEL, GYRO, AUDIO, SOUND_LEVEL, CAMERA, GPS, GPS_SPEED, LIGHT, MAG, PRESSURE,
           ORIENTATION, NAV)
