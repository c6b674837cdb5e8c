"""MPU-6050 register map and datasheet figures, as data.

Sources:
    RM: InvenSense "MPU-6000 and MPU-6050 Register Map and Descriptions", RM-MPU-6000A-00,
        Rev 4.2 (2013-08-19).
    PS: InvenSense "MPU-6000 and MPU-6050 Product Specification", PS-MPU-6000A-00, Rev 3.4
        (2013-08-19).
"""

from __future__ import annotations

import math

from ..registers import Field, Register

SMPLRT_DIV = Register("SMPLRT_DIV", 0x19, reset=0x00, source="RM 4.2, sec. 4.2, p. 11")
CONFIG = Register("CONFIG", 0x1A, reset=0x00, source="RM 4.2, sec. 4.3, p. 13")
DLPF_CFG = Field(CONFIG, 0, 3)
GYRO_CONFIG = Register("GYRO_CONFIG", 0x1B, reset=0x00, source="RM 4.2, sec. 4.4, p. 14")
FS_SEL = Field(GYRO_CONFIG, 3, 2)
ACCEL_CONFIG = Register("ACCEL_CONFIG", 0x1C, reset=0x00, source="RM 4.2, sec. 4.5, p. 15")
AFS_SEL = Field(ACCEL_CONFIG, 3, 2)
ACCEL_HPF = Field(ACCEL_CONFIG, 0, 3)
#: Motion threshold; one LSB is 32 mg ("intelligence function increment", PS 3.4 sec. 6.2 p. 13).
MOT_THR = Register("MOT_THR", 0x1F, reset=0x00, source="PS 3.4, sec. 6.2, p. 13; RM 4.2 p. 7")
MOT_THR_G_PER_LSB = 0.032
FIFO_EN = Register("FIFO_EN", 0x23, reset=0x00, source="RM 4.2, sec. 4.6, p. 16")
TEMP_FIFO_EN = Field(FIFO_EN, 7)
XG_FIFO_EN = Field(FIFO_EN, 6)
YG_FIFO_EN = Field(FIFO_EN, 5)
ZG_FIFO_EN = Field(FIFO_EN, 4)
ACCEL_FIFO_EN = Field(FIFO_EN, 3)
INT_ENABLE = Register("INT_ENABLE", 0x38, reset=0x00, source="RM 4.2, sec. 4.16, p. 27")
MOT_EN = Field(INT_ENABLE, 6)
FIFO_OFLOW_EN = Field(INT_ENABLE, 4)
DATA_RDY_EN = Field(INT_ENABLE, 0)
INT_STATUS = Register("INT_STATUS", 0x3A, reset=0x00, read_only=True,
                      source="RM 4.2, sec. 4.17, p. 28 (cleared when read)")
MOT_INT = Field(INT_STATUS, 6)
FIFO_OFLOW_INT = Field(INT_STATUS, 4)
DATA_RDY_INT = Field(INT_STATUS, 0)
ACCEL_XOUT_H = Register("ACCEL_XOUT_H", 0x3B, read_only=True, source="RM 4.2, sec. 4.17, p. 29")
TEMP_OUT_H = Register("TEMP_OUT_H", 0x41, width=2, signed=True, read_only=True,
                      source="RM 4.2, sec. 4.18, p. 30")
GYRO_XOUT_H = Register("GYRO_XOUT_H", 0x43, read_only=True, source="RM 4.2, sec. 4.19, p. 31")
USER_CTRL = Register("USER_CTRL", 0x6A, reset=0x00, source="RM 4.2, sec. 4.27, p. 38")
FIFO_ENABLE = Field(USER_CTRL, 6)
FIFO_RESET = Field(USER_CTRL, 2)
SIG_COND_RESET = Field(USER_CTRL, 0)
PWR_MGMT_1 = Register("PWR_MGMT_1", 0x6B, reset=0x40, source="RM 4.2, sec. 4.28, p. 40")
DEVICE_RESET = Field(PWR_MGMT_1, 7)
SLEEP = Field(PWR_MGMT_1, 6)
CYCLE = Field(PWR_MGMT_1, 5)
TEMP_DIS = Field(PWR_MGMT_1, 3)
CLKSEL = Field(PWR_MGMT_1, 0, 3)
PWR_MGMT_2 = Register("PWR_MGMT_2", 0x6C, reset=0x00, source="RM 4.2, sec. 4.29, p. 42")
LP_WAKE_CTRL = Field(PWR_MGMT_2, 6, 2)
STBY_GYRO = Field(PWR_MGMT_2, 0, 3)   # STBY_XG, STBY_YG, STBY_ZG
STBY_ACCEL = Field(PWR_MGMT_2, 3, 3)  # STBY_XA, STBY_YA, STBY_ZA
FIFO_COUNT_H = Register("FIFO_COUNT_H", 0x72, width=2, read_only=True,
                        source="RM 4.2, sec. 4.30, p. 43")
FIFO_R_W = Register("FIFO_R_W", 0x74, source="RM 4.2, sec. 4.31, p. 44")
WHO_AM_I = Register("WHO_AM_I", 0x75, reset=0x68, read_only=True,
                    source="RM 4.2, sec. 4.32, p. 45")

#: WHO_AM_I of the MPU-6050 (bits 6:1 = 0x34, independent of AD0), RM 4.2 p. 45.
WHO_AM_I_VALUE = 0x68
#: FIFO size in bytes, RM 4.2 sec. 4.30 p. 43 and PS 3.4 sec. 7.17.
FIFO_SIZE = 1024
#: Gyroscope output rate with the DLPF off (DLPF_CFG 0 or 7) and on, RM 4.2 p. 11.
GYRO_RATE_DLPF_OFF_HZ = 8000.0
GYRO_RATE_DLPF_ON_HZ = 1000.0
#: DLPF_CFG -> (accel bandwidth Hz, gyro bandwidth Hz), RM 4.2 sec. 4.3 p. 13.
DLPF_BANDWIDTH_HZ = {0: (260, 256), 1: (184, 188), 2: (94, 98), 3: (44, 42), 4: (21, 20),
                     5: (10, 10), 6: (5, 5)}
#: AFS_SEL -> (range g, LSB per g), PS 3.4 sec. 6.2 p. 13.
ACCEL_RANGES = {0: (2, 16384.0), 1: (4, 8192.0), 2: (8, 4096.0), 3: (16, 2048.0)}
#: FS_SEL -> (range deg/s, LSB per deg/s), PS 3.4 sec. 6.1 p. 12.
GYRO_RANGES = {0: (250, 131.0), 1: (500, 65.5), 2: (1000, 32.8), 3: (2000, 16.4)}
#: LP_WAKE_CTRL -> wake-up frequency in accelerometer-only low-power cycle mode, RM 4.2 p. 42.
LP_WAKE_HZ = {0: 1.25, 1: 5.0, 2: 20.0, 3: 40.0}
#: Temperature in degC = TEMP_OUT / 340 + 36.53, RM 4.2 sec. 4.18 p. 30.
TEMP_LSB_PER_C = 340.0
TEMP_OFFSET_C = 36.53
#: Noise spectral densities: accel 400 ug/sqrt(Hz) (PS 3.4 sec. 6.2 p. 13), gyro
#: 0.005 deg/s/sqrt(Hz) (PS 3.4 sec. 6.1 p. 12).
ACCEL_NOISE_G_RTHZ = 400e-6
GYRO_NOISE_DPS_RTHZ = 0.005
#: Standard gravity (m/s^2) to turn g into SI units.
G0 = 9.80665
DEG = math.pi / 180.0
