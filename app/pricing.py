"""What model tokens cost: LLM_PRICES, per million prompt and completion tokens of each model."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class ModelPrice(BaseModel):
    """The price of one model, in any one currency (USD in the docs), per million tokens."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    prompt: float = Field(ge=0, description="Per million prompt (input) tokens.")
    completion: float = Field(ge=0, description="Per million completion (output) tokens.")


PriceTable = dict[str, ModelPrice]
_TABLE = TypeAdapter(PriceTable)


def parse_prices(raw: str) -> PriceTable:
    """A price table from JSON text, or from the JSON file a path names; ValueError if bad."""
    text = raw.strip()
    if not text:
        return {}
    if not text.startswith("{"):
        path = Path(text).expanduser()
        if not path.is_file():
            raise ValueError(f"not a JSON object, nor a file: {text[:80]!r}")
        text = path.read_text(encoding="utf-8")
    return _TABLE.validate_json(text)


def answer_cost(
    prices: Mapping[str, ModelPrice], model: str | None, usage: Mapping[str, int] | None
) -> float | None:
    """What an answer's usage cost under `prices`; None when the model or the usage is unknown."""
    price = prices.get(model or "")
    if price is None or not usage:
        return None
    prompt = usage.get("prompt_tokens", 0)
    completion = usage.get("completion_tokens", 0)
    return round((prompt * price.prompt + completion * price.completion) / 1_000_000, 10)
