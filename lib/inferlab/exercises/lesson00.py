"""Lesson 00: one warm-up exercise to show how checks work."""
from ..roofline import bytes_per_value
from . import Exercise, register

register(
    Exercise("00.bf16-bytes", "How many bytes does one bf16 number take?",
             expected=lambda: bytes_per_value("bf16"), unit="bytes", rtol=0.0, close_rtol=0.0,
             hint="bf16 is a 16-bit format, and a byte has 8 bits.",
             explanation="16 bits = 2 bytes. fp8 takes 1 byte and fp4 half a byte."),
)
