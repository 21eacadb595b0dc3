"""The shortskit version (read by the build and by ``shortskit --version``)."""

__version__ = "0.1.0"
