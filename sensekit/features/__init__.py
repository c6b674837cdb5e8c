"""Signal features shared by the fusion network and the sampling controller (numpy only).

- :mod:`sensekit.features.audio`: log-mel spectrogram, frame levels and sound and voice
  activity from PCM.

Drivers deliver samples; what is computed from them for a model or a policy lives here, so a
consumer never imports a driver to read its data.
"""
