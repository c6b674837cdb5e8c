"""Ambient light sensors."""
