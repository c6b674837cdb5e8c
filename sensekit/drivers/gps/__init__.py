"""GPS receivers: NMEA 0183 parsing, u-blox and MTK control.

- :mod:`.nmea`: streaming sentence reader (checksums, split lines, junk and long lines counted);
- :mod:`.sentences`, :mod:`.epoch`: one :class:`~.epoch.Fix` per navigation epoch, dated;
- :mod:`.sky`, :mod:`.streams`: satellites in view; fixes and views as packets;
- :mod:`.capture`, :mod:`.cli`: decoding captured logs (``sensekit gps decode``);
- :mod:`.ubx`, :mod:`.control`: UBX frames and what each receiver family is sent;
- :mod:`.nmea_gps`: the :class:`~.nmea_gps.NmeaGps` driver (registered as ``"nmea"``).

Nothing here imports pyserial until a driver is opened on a real port.
"""
