"""inferlab: the helper library of The Latency Floor, a course on the physics and
economics of LLM inference.

Everything inside is SI (bytes, seconds, FLOP/s); convert only for display.
"""
from .hardware import Hardware, get_hardware, list_hardware
from .models import Model, get_model, list_models
from .roofline import (StepCost, chips_to_hold, decode_step, latency_floor, prefill_step,
                       roofline_seconds, weight_bytes_needed)
from .exercises import check

__version__ = "0.1.0"

__all__ = [
    "Hardware", "Model", "StepCost", "check", "chips_to_hold", "decode_step", "get_hardware",
    "get_model", "latency_floor", "list_hardware", "list_models", "prefill_step",
    "roofline_seconds", "weight_bytes_needed",
]
