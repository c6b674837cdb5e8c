"""Audio capture: microphones and the resampler (features from PCM are in sensekit.features)."""
