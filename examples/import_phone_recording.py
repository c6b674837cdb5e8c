"""Import a phone recording (format detected from the content) and look at what came in.

    python examples/import_phone_recording.py [RECORDING] [-o phone.mcap]

Without RECORDING it takes the shortest walking recording of the US transportation-mode set in
``../shared/corpus/us_tmd`` (relative to the project root): Android sensor events, one stream
per sensor, the mode in the file name as the ``transport`` label. Sensor Logger exports and
CSV files work the same way (``sensekit import --help``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sensekit.log import import_recording
from sensekit.log import open as open_log

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"


def default_recording() -> Path:
    walks = sorted((CORPUS / "us_tmd").glob("*_Walking_*.csv.gz"), key=lambda p: p.stat().st_size)
    if not walks:
        raise SystemExit(f"no recording given and none found in {CORPUS / 'us_tmd'}")
    return walks[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recording", nargs="?", type=Path, help="phone export or CSV file")
    parser.add_argument("-o", "--output", type=Path, default=Path("phone.mcap"))
    args = parser.parse_args()
    source = args.recording or default_recording()

    result = import_recording(source, args.output)   # refuses to replace an existing file
    print(f"{source.name}: format {result.format}, written to {result.path}")
    for note in result.notes:
        print(f"  note: {note}")
    with open_log(result.path) as log:
        for name, info in sorted(log.streams.items()):
            print(f"  {name:14} {info.samples:7d} samples  {info.rate_hz:8.2f} Hz  "
                  f"{info.duration_s:7.1f} s")
        classes = json.loads(log.devices()["labels"]["transport"])   # code -> class name
        codes = log.read("labels")["transport"]
        print("  transport label:", ", ".join(sorted({classes[c] for c in codes})))


if __name__ == "__main__":
    main()
