"""SMS keyword short-code gateway and micro-donation engine."""

__version__ = "0.1.0"
