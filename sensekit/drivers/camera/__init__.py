"""Cameras: V4L2, picamera2, GStreamer, files and the emulated source; dual mode."""
