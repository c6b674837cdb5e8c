"""Power monitors (current/voltage sensors on I2C)."""
