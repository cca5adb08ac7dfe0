"""Fixtures of the end-to-end tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.kits import scenes

SHORT_FRAMES = 720
"""72 s of the person video: its first three visitors, each intrusion's clip (pre-roll and
post-roll) whole before the file ends, and nobody at the table yet of the fourth (~77 s)."""


@pytest.fixture(scope="session")
def person_video_short(media: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The person video cut to its first three visitors (half the frames to detect)."""
    return scenes.trim(media / scenes.PERSON_VIDEO,
                       tmp_path_factory.mktemp("video") / "person-short.avi", SHORT_FRAMES)
