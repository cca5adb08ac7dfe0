"""Offline tools for technicians and developers: replay, calibration drawing, evaluation, quantisation."""
