"""Vigie edge agent: runs on each camera's box; only events leave it."""

__version__ = "0.1.0"
