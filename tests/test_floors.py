"""tools/floors.py: the pins `make test-lowest` installs."""

from __future__ import annotations

import pytest

from tools.floors import floors

pytestmark = pytest.mark.timeout(10)


def test_each_floor_becomes_its_release_series() -> None:
    text = "fastapi>=0.115,<1\nsqlalchemy[asyncio]>=2.0.38,<2.2\ntzdata>=2024.1\n"
    assert floors(text) == ["fastapi==0.115.*", "sqlalchemy[asyncio]==2.0.38.*", "tzdata==2024.1.*"]


def test_a_one_part_floor_is_its_dot_zero_series() -> None:
    assert floors("pyngrok>=7,<8\n") == ["pyngrok==7.0.*"]


def test_comments_includes_and_exact_pins_are_left_out() -> None:
    text = "# pydantic>=2.0 in a comment\n-r requirements.txt\nruff==0.17.6\nredis>=5.0,<9  # why\n"
    assert floors(text) == ["redis==5.0.*"]
