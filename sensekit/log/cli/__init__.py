"""The recording commands: ``sensekit info``, ``replay``, ``export``, ``import`` and ``log``.

``sensekit record`` lives in :mod:`sensekit.log.record` beside the recording loop it drives.
"""
