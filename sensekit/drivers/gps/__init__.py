"""GPS receivers: NMEA 0183 parsing, u-blox and MTK control."""
