"""Emulated devices and fakes that ship with the SDK, so scripts and tests run without hardware."""
