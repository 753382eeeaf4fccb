"""Layers with torch.nn's names, arguments and defaults, on NumPy arrays."""
from .conv import Conv2d

__all__ = ["Conv2d"]
