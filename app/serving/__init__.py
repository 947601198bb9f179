"""Serving: ``start(app)``, the one start-up path of a serving process (``startup.py``)."""
from .startup import start

__all__ = ["start"]
