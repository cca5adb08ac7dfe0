"""Gunshot detection on the box: microphone or file -> 16 kHz ring buffer -> YAMNet -> events.

Off by default and lawful only with a recorded legal basis (``[audio]`` in the box config).
Audio stays in memory: no module here writes samples to disk or hands them to egress; only
``gunshot`` events (numbers) leave, through the outbox like every other event.

Modules: :mod:`~edge.audio.source` (inputs, resampling), :mod:`~edge.audio.ring` (the
in-memory buffer), :mod:`~edge.audio.gate` (impulse gate), :mod:`~edge.audio.classifier`
(YAMNet on TFLite), :mod:`~edge.audio.detector` (windows and scores),
:mod:`~edge.audio.burst` (hysteresis -> events), :mod:`~edge.audio.listener` (the agent's
thread), :mod:`~edge.tools.audio_eval` (``vigie audio eval``).
"""
