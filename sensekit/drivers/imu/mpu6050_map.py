"""InvenSense MPU-6050 / MPU-6500-family register map and datasheet figures, as data.

The MPU-6050 and the MPU-6500 family (MPU-6500, MPU-9250, MPU-9255, ICM-20689) share most
addresses; where a register differs, both meanings are declared and the variant table
(:mod:`sensekit.drivers.imu.variants`) says which one a chip has.

Sources:
    RM: InvenSense "MPU-6000 and MPU-6050 Register Map and Descriptions", RM-MPU-6000A-00,
        Rev 4.2 (2013-08-19).
    RM2: the same document at Rev 2.0 (2011-05-19), which still documented the motion
        detection registers MOT_DUR (0x20) and MOT_DETECT_CTRL (0x69) that Rev 4.2 dropped; as
        reproduced in the i2cdevlib MPU6050 register definitions.
    PS: InvenSense "MPU-6000 and MPU-6050 Product Specification", PS-MPU-6000A-00, Rev 3.4.
    RM9: InvenSense "MPU-9250 Register Map and Descriptions", RM-MPU-9250A-00, Rev 1.6
        (2015-01-07); the MPU-6500 map (RM-MPU-6500A-00) is the same for these registers.
"""

from __future__ import annotations

import math

from ..registers import Field, Register

# -- self-test ----------------------------------------------------------------------------
SELF_TEST_X_GYRO = Register("SELF_TEST_X_GYRO", 0x00, source="RM9 1.6, p. 7 (6500 family)")
SELF_TEST_X = Register("SELF_TEST_X", 0x0D, source="RM 4.2, sec. 4.1, p. 9")
SELF_TEST_A = Register("SELF_TEST_A", 0x10, source="RM 4.2, sec. 4.1, p. 9")
XA_TEST_HIGH = Field(SELF_TEST_X, 5, 3)   # XA_TEST[4:2]; Y and Z alike at +1, +2
XG_TEST = Field(SELF_TEST_X, 0, 5)
#: XA_TEST[1:0], YA_TEST[1:0], ZA_TEST[1:0] in SELF_TEST_A.
A_TEST_LOW = (Field(SELF_TEST_A, 4, 2), Field(SELF_TEST_A, 2, 2), Field(SELF_TEST_A, 0, 2))
SELF_TEST_X_ACCEL = Register("SELF_TEST_X_ACCEL", 0x0D, source="RM9 1.6, p. 8 (6500 family)")

# -- configuration ------------------------------------------------------------------------
SMPLRT_DIV = Register("SMPLRT_DIV", 0x19, reset=0x00, source="RM 4.2, sec. 4.2, p. 11")
CONFIG = Register("CONFIG", 0x1A, reset=0x00, source="RM 4.2, sec. 4.3, p. 13")
FIFO_MODE = Field(CONFIG, 6)              # 6500 family: 0 = overwrite the oldest (RM9 p. 13)
DLPF_CFG = Field(CONFIG, 0, 3)
GYRO_CONFIG = Register("GYRO_CONFIG", 0x1B, reset=0x00, source="RM 4.2, sec. 4.4, p. 14")
GYRO_ST = Field(GYRO_CONFIG, 5, 3)        # XG_ST, YG_ST, ZG_ST
FS_SEL = Field(GYRO_CONFIG, 3, 2)
FCHOICE_B = Field(GYRO_CONFIG, 0, 2)      # 6500 family (RM9 p. 14)
ACCEL_CONFIG = Register("ACCEL_CONFIG", 0x1C, reset=0x00, source="RM 4.2, sec. 4.5, p. 15")
ACCEL_ST = Field(ACCEL_CONFIG, 5, 3)      # XA_ST, YA_ST, ZA_ST
AFS_SEL = Field(ACCEL_CONFIG, 3, 2)
ACCEL_HPF = Field(ACCEL_CONFIG, 0, 3)     # MPU-6050 only (RM2 2.0, p. 15)
ACCEL_CONFIG2 = Register("ACCEL_CONFIG2", 0x1D, reset=0x00,
                         source="RM9 1.6, p. 15 (6500 family; absent on the MPU-6050)")
FIFO_SIZE = Field(ACCEL_CONFIG2, 6, 2)    # ICM-20689: 0b11 = 4 KB FIFO (Linux inv_mpu6050)
ACCEL_FCHOICE_B = Field(ACCEL_CONFIG2, 3)
A_DLPF_CFG = Field(ACCEL_CONFIG2, 0, 3)
LP_ACCEL_ODR = Register("LP_ACCEL_ODR", 0x1E, reset=0x00, source="RM9 1.6, p. 17")
LPOSC_CLKSEL = Field(LP_ACCEL_ODR, 0, 4)
#: Motion threshold (MPU-6050; one LSB is 32 mg, PS 3.4 sec. 6.2 p. 13) or wake-on-motion
#: threshold (6500 family; one LSB is 4 mg, 0 to 1020 mg, RM9 1.6 p. 17).
MOT_THR = Register("MOT_THR", 0x1F, reset=0x00, source="PS 3.4, sec. 6.2, p. 13; RM9 p. 17")
MOT_THR_G_PER_LSB = 0.032
WOM_THR_G_PER_LSB = 0.004
#: Motion duration counter threshold, 1 LSB = 1 ms (MPU-6050, RM2 2.0, sec. 4.7).
MOT_DUR = Register("MOT_DUR", 0x20, reset=0x00, source="RM2 2.0, sec. 4.7")
FIFO_EN = Register("FIFO_EN", 0x23, reset=0x00, source="RM 4.2, sec. 4.6, p. 16")
TEMP_FIFO_EN = Field(FIFO_EN, 7)
GYRO_FIFO_EN = Field(FIFO_EN, 4, 3)       # XG, YG, ZG
ACCEL_FIFO_EN = Field(FIFO_EN, 3)
SLV0_FIFO_EN = Field(FIFO_EN, 0)

# -- the auxiliary I2C master (RM 4.2 sec. 4.7-4.12, pp. 18-25; RM9 1.6 pp. 19-27) -----------
I2C_MST_CTRL = Register("I2C_MST_CTRL", 0x24, reset=0x00, source="RM 4.2, sec. 4.7, p. 18")
I2C_MST_CLK = Field(I2C_MST_CTRL, 0, 4)
I2C_MST_CLK_400KHZ = 13                   # 8 MHz / 20 (RM 4.2 p. 19 table)
I2C_SLV0_ADDR = Register("I2C_SLV0_ADDR", 0x25, reset=0x00, source="RM 4.2, sec. 4.8, p. 20")
I2C_SLV0_RNW = Field(I2C_SLV0_ADDR, 7)
I2C_SLV0_ID = Field(I2C_SLV0_ADDR, 0, 7)
I2C_SLV0_REG = Register("I2C_SLV0_REG", 0x26, reset=0x00, source="RM 4.2, sec. 4.8, p. 20")
I2C_SLV0_CTRL = Register("I2C_SLV0_CTRL", 0x27, reset=0x00, source="RM 4.2, sec. 4.8, p. 20")
I2C_SLV0_EN = Field(I2C_SLV0_CTRL, 7)
I2C_SLV0_LENG = Field(I2C_SLV0_CTRL, 0, 4)
I2C_SLV4_CTRL = Register("I2C_SLV4_CTRL", 0x34, reset=0x00, source="RM 4.2, sec. 4.10, p. 23")
I2C_MST_DLY = Field(I2C_SLV4_CTRL, 0, 5)  # slaves with DLY_EN are read every 1 + DLY samples
I2C_MST_STATUS = Register("I2C_MST_STATUS", 0x36, read_only=True,
                          source="RM 4.2, sec. 4.11, p. 25 (cleared when read)")
I2C_SLV0_NACK = Field(I2C_MST_STATUS, 0)
INT_PIN_CFG = Register("INT_PIN_CFG", 0x37, reset=0x00, source="RM 4.2, sec. 4.15, p. 26")
INT_LEVEL = Field(INT_PIN_CFG, 7)         # 1: active low
INT_OPEN = Field(INT_PIN_CFG, 6)          # 1: open drain
LATCH_INT_EN = Field(INT_PIN_CFG, 5)      # 1: held until cleared, 0: a 50 us pulse
INT_RD_CLEAR = Field(INT_PIN_CFG, 4)      # 1: any read clears the status
I2C_BYPASS_EN = Field(INT_PIN_CFG, 1)
INT_ENABLE = Register("INT_ENABLE", 0x38, reset=0x00, source="RM 4.2, sec. 4.16, p. 27")
MOT_EN = Field(INT_ENABLE, 6)             # WOM_EN on the 6500 family (RM9 p. 29)
FIFO_OFLOW_EN = Field(INT_ENABLE, 4)
DATA_RDY_EN = Field(INT_ENABLE, 0)
INT_STATUS = Register("INT_STATUS", 0x3A, reset=0x00, read_only=True,
                      source="RM 4.2, sec. 4.17, p. 28 (cleared when read)")
MOT_INT = Field(INT_STATUS, 6)            # WOM_INT on the 6500 family
FIFO_OFLOW_INT = Field(INT_STATUS, 4)
DATA_RDY_INT = Field(INT_STATUS, 0)
ACCEL_XOUT_H = Register("ACCEL_XOUT_H", 0x3B, read_only=True, source="RM 4.2, sec. 4.17, p. 29")
TEMP_OUT_H = Register("TEMP_OUT_H", 0x41, width=2, signed=True, read_only=True,
                      source="RM 4.2, sec. 4.18, p. 30")
GYRO_XOUT_H = Register("GYRO_XOUT_H", 0x43, read_only=True, source="RM 4.2, sec. 4.19, p. 31")
EXT_SENS_DATA_00 = Register("EXT_SENS_DATA_00", 0x49, read_only=True,
                            source="RM 4.2, sec. 4.20, p. 32")
I2C_MST_DELAY_CTRL = Register("I2C_MST_DELAY_CTRL", 0x67, reset=0x00,
                              source="RM 4.2, sec. 4.23, p. 36")
I2C_SLV0_DLY_EN = Field(I2C_MST_DELAY_CTRL, 0)
#: MPU-6050: ACCEL_ON_DELAY [5:4] (extra ms of accelerometer power-on delay), FF_COUNT [3:2],
#: MOT_COUNT [1:0] (how fast the motion counter falls when there is no motion: 0 resets it,
#: 1, 2, 3 take 1, 2, 4 off), RM2 2.0 sec. 4.27. 6500 family: ACCEL_INTEL_EN [7],
#: ACCEL_INTEL_MODE [6] (1: compare each sample with the previous one), RM9 1.6 p. 42.
MOT_DETECT_CTRL = Register("MOT_DETECT_CTRL", 0x69, reset=0x00,
                           source="RM2 2.0, sec. 4.27; RM9 1.6, p. 42")
ACCEL_ON_DELAY = Field(MOT_DETECT_CTRL, 4, 2)
MOT_COUNT = Field(MOT_DETECT_CTRL, 0, 2)
ACCEL_INTEL_EN = Field(MOT_DETECT_CTRL, 7)
ACCEL_INTEL_MODE = Field(MOT_DETECT_CTRL, 6)
USER_CTRL = Register("USER_CTRL", 0x6A, reset=0x00, source="RM 4.2, sec. 4.27, p. 38")
FIFO_ENABLE = Field(USER_CTRL, 6)
I2C_MST_EN = Field(USER_CTRL, 5)
FIFO_RESET = Field(USER_CTRL, 2)
I2C_MST_RESET = Field(USER_CTRL, 1)
SIG_COND_RESET = Field(USER_CTRL, 0)
PWR_MGMT_1 = Register("PWR_MGMT_1", 0x6B, reset=0x40, source="RM 4.2, sec. 4.28, p. 40")
DEVICE_RESET = Field(PWR_MGMT_1, 7)
SLEEP = Field(PWR_MGMT_1, 6)
CYCLE = Field(PWR_MGMT_1, 5)
TEMP_DIS = Field(PWR_MGMT_1, 3)
CLKSEL = Field(PWR_MGMT_1, 0, 3)
CLKSEL_INTERNAL, CLKSEL_PLL_X = 0, 1      # 8 MHz oscillator; PLL on the X gyro (auto on 6500)
PWR_MGMT_2 = Register("PWR_MGMT_2", 0x6C, reset=0x00, source="RM 4.2, sec. 4.29, p. 42")
LP_WAKE_CTRL = Field(PWR_MGMT_2, 6, 2)    # MPU-6050 only
STBY_ACCEL = Field(PWR_MGMT_2, 3, 3)      # STBY_XA, STBY_YA, STBY_ZA
STBY_GYRO = Field(PWR_MGMT_2, 0, 3)       # STBY_XG, STBY_YG, STBY_ZG
ALL_AXES = 0b111
FIFO_COUNT_H = Register("FIFO_COUNT_H", 0x72, width=2, read_only=True,
                        source="RM 4.2, sec. 4.30, p. 43")
FIFO_R_W = Register("FIFO_R_W", 0x74, source="RM 4.2, sec. 4.31, p. 44")
WHO_AM_I = Register("WHO_AM_I", 0x75, reset=0x68, read_only=True,
                    source="RM 4.2, sec. 4.32, p. 45")

#: ACCEL_HPF code that holds the sample taken when it was set, so motion is measured against
#: the pose the device rested in (RM2 2.0, sec. 4.5); 1 (5 Hz) lets the filter settle first.
ACCEL_HPF_HOLD, ACCEL_HPF_5HZ = 0b111, 0b001
#: Gyroscope output rate with the DLPF off (DLPF_CFG 0 or 7) and on, RM 4.2 p. 11.
GYRO_RATE_DLPF_OFF_HZ = 8000.0
GYRO_RATE_DLPF_ON_HZ = 1000.0
#: AFS_SEL -> (range g, LSB per g), PS 3.4 sec. 6.2 p. 13 (the 6500 family alike).
ACCEL_RANGES = {0: (2, 16384.0), 1: (4, 8192.0), 2: (8, 4096.0), 3: (16, 2048.0)}
#: FS_SEL -> (range deg/s, LSB per deg/s), PS 3.4 sec. 6.1 p. 12.
GYRO_RANGES = {0: (250, 131.0), 1: (500, 65.5), 2: (1000, 32.8), 3: (2000, 16.4)}
#: Noise spectral densities: accel 400 ug/sqrt(Hz) (PS 3.4 sec. 6.2 p. 13), gyro
#: 0.005 deg/s/sqrt(Hz) (PS 3.4 sec. 6.1 p. 12).
ACCEL_NOISE_G_RTHZ = 400e-6
GYRO_NOISE_DPS_RTHZ = 0.005
#: Standard gravity (m/s^2) to turn g into SI units.
G0 = 9.80665
DEG = math.pi / 180.0
#: Wait after DEVICE_RESET before the registers can be written (RM 4.2 p. 41: 100 ms).
RESET_WAIT_S = 0.100
