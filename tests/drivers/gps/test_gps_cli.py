"""``sensekit gps decode``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sensekit.cli import main
from sensekit.drivers.gps.nmea import sentence


def test_decode_json_with_header_date_and_summary(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "cap.log"
    log.write_bytes(b"# Name: test\n# Date: 2021-03-04\n"
                    + sentence("GPGGA,101010.00,4807.038,N,01131.000,E,1,08,0.9,545.4,M,,M,,")
                    + b"$GPGGA,bad*00\r\n"
                    + sentence("GPGGA,101011.00,,,,,0,00,,,M,,M,,"))
    assert main(["gps", "decode", str(log), "--json"]) == 0
    out, err = capsys.readouterr()
    first, second = (json.loads(line) for line in out.splitlines())
    assert first == {"time": "2021-03-04T10:10:10.000Z", "mode": 3, "lat": 48.1173,
                     "lon": 11.516666667, "alt_msl": 545.4}
    assert second == {"time": "2021-03-04T10:10:11.000Z", "mode": 1}
    assert "read 3, accepted 2, rejected 1 (bad_checksum 1)" in err


def test_decode_date_option_and_text_output(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "cap.nmea"
    log.write_bytes(sentence("GPGGA,101010.00,4807.038,S,01131.000,W,1,08,0.9,545.4,M,,M,,"))
    assert main(["gps", "decode", str(log), "--date", "2020-02-29"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("2020-02-29T10:10:10.000Z  mode=3  lat=-48.1173000  lon=-11.5166667")


def test_decode_errors_name_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gps", "decode", str(tmp_path / "missing.log")]) == 2
    assert "missing.log" in capsys.readouterr().err
    binary = tmp_path / "ubx.bin"
    binary.write_bytes(bytes(range(256)) * 4)
    assert main(["gps", "decode", str(binary)]) == 1  # a file that is not NMEA: run failed
    assert "no NMEA sentence" in capsys.readouterr().err
