"""Where and in what precision a run trains: the device choice and the autocast/scaler setup.

On CUDA the default (``precision: auto``) is bf16 autocast; fp16 adds a gradient scaler. On the
CPU training is always fp32: CPU autocast is slow for convolutions and gains nothing here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from zsk.registry import UserError

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(choice: str, local_rank: int = 0) -> torch.device:
    """The device for ``--device auto|cpu|cuda`` (CUDA when present for ``auto``)."""
    if choice not in DEVICE_CHOICES:
        raise UserError(f"unknown device '{choice}'", hint="use --device auto, cpu or cuda")
    if choice == "cpu" or (choice == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise UserError(
            "--device cuda was asked for, but no CUDA GPU is available to PyTorch here",
            hint="train on the CPU with --device cpu (or --device auto, which picks what exists)",
        )
    return torch.device("cuda", local_rank % torch.cuda.device_count())


@dataclass(frozen=True)
class Precision:
    """The autocast dtype (None: plain fp32) and whether a gradient scaler is needed."""

    device: torch.device
    dtype: torch.dtype | None

    @property
    def name(self) -> str:
        return {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[self.dtype]

    @property
    def needs_scaler(self) -> bool:
        return self.dtype == torch.float16

    @contextlib.contextmanager
    def autocast(self) -> Iterator[None]:
        if self.dtype is None:
            yield
            return
        with torch.autocast(self.device.type, dtype=self.dtype):
            yield

    def scaler(self) -> torch.amp.GradScaler | None:
        return torch.amp.GradScaler(self.device.type) if self.needs_scaler else None


def resolve_precision(choice: str, device: torch.device) -> Precision:
    """``precision: auto|fp32|bf16|fp16`` for ``device``: reduced precision on CUDA only."""
    if device.type != "cuda" or choice == "fp32":
        return Precision(device, None)
    if choice == "fp16":
        return Precision(device, torch.float16)
    if choice == "bf16" or torch.cuda.is_bf16_supported():
        return Precision(device, torch.bfloat16)
    return Precision(device, torch.float16)
