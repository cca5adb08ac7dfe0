"""Event clips: pre-roll, assembly off the detection loop, anonymisation and WebM encoding."""
