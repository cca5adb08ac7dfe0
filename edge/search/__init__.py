"""Forensic search on the box: the track index, previews, colours and signed-request answers."""
