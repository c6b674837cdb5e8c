"""Transports: I2C over smbus2 and serial over pyserial URLs, and the emulated buses."""
