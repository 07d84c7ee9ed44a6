"""chanperf: the Channel Performance service's domain core (no Flask, no RQ here)."""

__version__ = "0.1.0"
