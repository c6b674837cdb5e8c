"""Audio capture and audio features."""
