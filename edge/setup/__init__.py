"""``vigie edge setup``: the zone editor served by the box itself, for the technician.

Raw video never leaves the box, so the editor runs there: a small web page bound to loopback
(reached through an SSH tunnel), guarded by a one-time token and an idle timeout. It shows
the camera's frames, lets zones, lines, directions, privacy masks and calibration points be
drawn with the mouse, validates every change with the config checker of ``check-config``,
tries the unsaved config on recent frames, and saves the TOML keeping the technician's comments.

Modules: :mod:`~edge.setup.server` (bind, print, serve, stop), :mod:`~edge.setup.app` (the
Flask routes), :mod:`~edge.setup.guard` (token, cookie, idle timeout), :mod:`~edge.setup.frames`
(the frames kept by the session), :mod:`~edge.setup.save` (tomlkit rendering, atomic save),
:mod:`~edge.setup.tryit` (the pipeline on kept frames), :mod:`~edge.setup.forms` (rule forms
from the pydantic models) and :mod:`~edge.setup.messages` (French and English texts).
Nothing here sends anything: no MQTT, no upload, no egress ledger entry.
"""
