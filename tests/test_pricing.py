"""LLM_PRICES: a price table from JSON or a file, and the cost of an answer's usage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.pricing import ModelPrice, answer_cost, parse_prices
from tests.conftest import make_settings


def test_prices_read_json_or_a_file_and_cost_only_known_models(tmp_path: Path) -> None:
    table = {"m": {"prompt": 1.0, "completion": 3.0}}
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(table))
    assert (
        parse_prices(json.dumps(table))
        == parse_prices(str(path))
        == {"m": ModelPrice(prompt=1.0, completion=3.0)}
    )
    assert parse_prices("") == {}
    usage = {"prompt_tokens": 1000, "completion_tokens": 500}
    prices = parse_prices(str(path))
    assert answer_cost(prices, "m", usage) == pytest.approx(0.0025)
    assert answer_cost(prices, "other", usage) is None
    assert answer_cost(prices, "m", None) is None
    with pytest.raises(ValueError):
        parse_prices(str(tmp_path / "missing.json"))
    with pytest.raises(ValueError):
        parse_prices('{"m": {"prompt": -1, "completion": 0}}')


def test_a_bad_price_table_stops_the_settings_naming_the_model() -> None:
    with pytest.raises(ValueError, match="llm_prices.m.completion"):
        make_settings(llm_prices='{"m": {"prompt": 1}}')
