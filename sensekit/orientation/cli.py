"""``sensekit orientation LOG -o OUT``: the AHRS over a recording's IMU streams.

Each IMU stream (``imu``, ``imu.wrist``...) becomes an orientation stream (``orientation``,
``orientation.wrist``...) in a new recording with the same clock. By default the streaming
filter runs packet by packet, as it would live. ``--offline`` treats each stream as one whole
recording (non-causal: every sample's estimate uses the samples after it), which fits one
hard-iron offset to every turn at once, so a magnet attached to the device is removed from the
first sample; see :meth:`sensekit.orientation.Ahrs.estimate_full`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..outputs import add_force_argument, atomic_output, is_stdout
from ..packets import Packet

__all__ = ["orientation_recording"]

#: Samples per written packet in offline mode (a whole stream is estimated at once).
_PACKET_S = 1.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("log", help="recording (.mcap) with an IMU stream")
    parser.add_argument("-o", "--output",
                        help="output recording (default: LOG's stem + .orientation.mcap; "
                             "'-': stdout, the summary then on stderr)")
    parser.add_argument("--streams", help="comma-separated IMU streams (default: every "
                                          "stream named imu or imu.*)")
    parser.add_argument("--offline", action="store_true",
                        help="whole-recording estimate, NON-CAUSAL (uses later samples): one "
                             "hard-iron offset fitted to every turn, heading smoothed both "
                             "ways; for recordings, not live use")
    parser.add_argument("--convention", choices=("enu", "ned"), default="enu")
    parser.add_argument("--backend", choices=("auto", "vqf", "complementary"), default="auto")
    parser.add_argument("--hard-iron-ut", metavar="X,Y,Z",
                        help="a stored magnetometer offset to start from (microtesla)")
    parser.add_argument("--no-hard-iron", action="store_true",
                        help="learn no offset (only --hard-iron-ut is removed)")
    parser.add_argument("--json", action="store_true", help="the summary as JSON on stdout")
    add_force_argument(parser)


def orientation_recording(src: str | os.PathLike[str], out: str | os.PathLike[str], *,
                          streams: list[str] | None = None, offline: bool = False,
                          convention: str = "enu", backend: str = "auto",
                          hard_iron: bool = True, hard_iron_ut: list[float] | None = None,
                          force: bool = False) -> dict[str, dict[str, Any]]:
    """Write the orientation of each IMU stream of ``src`` to the recording ``out``.

    Returns:
        Per IMU stream: samples, rate, backend, mode and the hard-iron offset (with the
        offline fit's verdict), the shares of samples at rest and magnetically disturbed.

    Raises:
        ConfigError: no IMU stream, a stream missing, or samples without gyroscope.
        OutputRefused: ``out`` exists (without ``force``) or is ``src``.
    """
    from ..clock import FakeClock
    from ..log.reader import LogReader
    from ..log.recorder import Recorder

    summary: dict[str, dict[str, Any]] = {}
    with LogReader(src) as log:
        names = _imu_streams(log.stream_names(), streams, src)
        with atomic_output(out, inputs=[src], force=force) as tmp, Recorder(
                tmp, clock=FakeClock(0),
                clock_synced={"true": True, "false": False}.get(log.clock_synchronized),
                wall_offset_ns=log.wall_offset_ns, clock_map=log.clock_map,
                metadata={"derived_from": Path(src).name,
                          "orientation": "offline (non-causal)" if offline else "streaming"},
                ) as rec:
            for name in names:
                imu = log.read(name)
                summary[name] = _one_stream(imu, rec.write, offline=offline,
                                            convention=convention, backend=backend,
                                            hard_iron=hard_iron, hard_iron_ut=hard_iron_ut)
    return summary


def _imu_streams(present: list[str], wanted: list[str] | None,
                 src: str | os.PathLike[str]) -> list[str]:
    if wanted is None:
        found = [s for s in present if s == "imu" or s.startswith("imu.")]
        if not found:
            raise ConfigError(f"{src}: no IMU stream (imu or imu.*); it has {present}. Hint: "
                              f"name one with --streams")
        return found
    missing = [s for s in wanted if s not in present]
    if missing:
        raise ConfigError(f"{src} has no stream {', '.join(missing)}; it has {present}")
    return wanted


def _one_stream(imu: Packet, write: Any, *, offline: bool, convention: str, backend: str,
                hard_iron: bool, hard_iron_ut: list[float] | None) -> dict[str, Any]:
    from ..log.importers.base import finite_median_rate
    from .ahrs import Ahrs, _out_stream
    from .streams import orientation_packet

    rate = finite_median_rate(imu.t_ns)
    if len(imu) < 2 or rate <= 0:
        raise ConfigError(f"stream {imu.stream!r}: {len(imu)} samples, too few for a rate")
    if "gyro_rads" not in imu.fields:
        raise ConfigError(f"stream {imu.stream!r} has no gyro_rads; the AHRS needs a "
                          f"gyroscope (fields: {sorted(imu.fields)})")
    ahrs = Ahrs(rate, convention, backend=backend, hard_iron=hard_iron,
                hard_iron_ut=hard_iron_ut)
    if offline:
        est = ahrs.estimate_full(imu["gyro_rads"], imu["accel_mps2"], imu.fields.get("mag_ut"),
                                 offline=True)
        step = max(1, round(_PACKET_S * rate))
        for lo in range(0, len(imu), step):
            part = slice(lo, lo + step)
            write(orientation_packet(_slice(est, part), imu.t_ns[part],
                                     stream=_out_stream(imu.stream), convention=convention,
                                     backend=ahrs.backend))
        rest, dist, offset = est.rest, est.mag_disturbed, est.hard_iron_ut[-1]
    else:
        rests, dists = [], []
        every = np.arange(len(imu))
        step = max(1, round(0.1 * rate))  # packets of 0.1 s, as a driver would deliver
        for lo in range(0, len(imu), step):
            out = ahrs.update(imu.select(every[lo:lo + step]))
            write(out)
            rests.append(out["rest"])
            dists.append(out["mag_disturbed"])
        rest, dist, offset = np.concatenate(rests), np.concatenate(dists), ahrs.hard_iron_ut
    fit = ahrs.offline_fit
    gaps = int(np.sum(np.diff(imu.t_ns) > 2.5e9 / rate))
    return {"samples": len(imu), "rate_hz": round(rate, 3), "backend": ahrs.backend,
            "mode": "offline (non-causal)" if offline else "streaming",
            "magnetometer": "mag_ut" in imu.fields, "gaps": gaps,
            "hard_iron_ut": [round(float(x), 3) for x in offset],
            "offline_fit": None if fit is None else {
                "accepted": fit.accepted, "reason": fit.reason,
                "sigma_ut": [round(float(x), 3) for x in fit.sigma_ut]},
            "rest_share": round(float(np.mean(rest)), 4),
            "mag_disturbed_share": round(float(np.mean(dist)), 4)}


def _slice(est: Any, part: slice) -> Any:
    from dataclasses import fields, replace

    return replace(est, **{f.name: getattr(est, f.name)[part] for f in fields(est)})


def run(args: argparse.Namespace) -> int:
    src = Path(args.log)
    out = Path(args.output or src.with_name(f"{src.stem}.orientation.mcap"))
    prior = None
    if args.hard_iron_ut:
        try:
            prior = [float(x) for x in args.hard_iron_ut.split(",")]
        except ValueError:
            prior = []
        if len(prior) != 3:
            raise ConfigError(f"--hard-iron-ut must be three numbers X,Y,Z in microtesla, got "
                              f"{args.hard_iron_ut!r}")
    summary = orientation_recording(
        src, out, streams=args.streams.split(",") if args.streams else None,
        offline=args.offline, convention=args.convention, backend=args.backend,
        hard_iron=not args.no_hard_iron, hard_iron_ut=prior, force=args.force)
    say = sys.stderr if is_stdout(out) else sys.stdout  # with -o -, stdout holds the recording
    if args.json:
        print(json.dumps({"output": str(out), "streams": summary}), file=say)
        return 0
    for name, s in summary.items():
        fit = s["offline_fit"]
        verdict = f" ({'fitted' if fit['accepted'] else 'none fitted'}: {fit['reason']})" \
            if fit else ""
        print(f"{name}: {s['samples']:,} samples at {s['rate_hz']:g} Hz, {s['backend']}, "
              f"{s['mode']}; hard iron {s['hard_iron_ut']} uT{verdict}", file=say)
        if s["gaps"] and args.offline:
            print(f"  warning: {s['gaps']} gaps in the timestamps; the offline estimate "
                  f"takes the samples as evenly spaced", file=say)
    print(f"wrote {'stdout' if is_stdout(out) else out}", file=say)
    return 0
