"""Our Decimal pricing agrees with genai-prices' own calculation on every default model."""

from __future__ import annotations

from decimal import Decimal

import pytest
from genai_prices import Usage, calc_price

from langchain_costrouter import Catalog, TokenUsage, cost_of
from langchain_costrouter.pricing.prices import Prices, UnpricedModelWarning, warn_unpriced

SHAPES = [
    TokenUsage(input_tokens=1_000, output_tokens=200),
    TokenUsage(input_tokens=50_000, output_tokens=2_000, cached_tokens=20_000),
    TokenUsage(input_tokens=300_000, output_tokens=1_000, cached_tokens=100_000),  # long context
    TokenUsage(input_tokens=0, output_tokens=1_000_000),
]
DEFAULT = Catalog.default()


@pytest.mark.parametrize("name", sorted(DEFAULT.models))
@pytest.mark.parametrize("usage", SHAPES, ids=lambda u: f"{u.input_tokens}in")
def test_matches_genai_prices(name: str, usage: TokenUsage) -> None:
    spec = DEFAULT[name]  # genai-prices computes from the API model id and provider
    expected = calc_price(
        Usage(input_tokens=usage.input_tokens, output_tokens=usage.output_tokens,
              cache_read_tokens=usage.cached_tokens or None),
        spec.model, provider_id=spec.provider,
    ).total_price
    assert cost_of(spec.prices, usage) == expected


def test_cost_is_decimal_and_unknown_is_none_with_one_warning() -> None:
    p = Prices(input=Decimal("2"), output=Decimal("8"))
    assert cost_of(p, TokenUsage(input_tokens=1_000_000, output_tokens=1_000_000)) == Decimal(10)
    assert cost_of(None, TokenUsage(input_tokens=5)) is None
    with pytest.warns(UnpricedModelWarning, match="'my-unpriced-model'"):
        warn_unpriced("my-unpriced-model")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_unpriced("my-unpriced-model")  # once only


def test_zero_price_is_zero_not_none() -> None:
    free = Prices(input=Decimal(0), output=Decimal(0))
    assert cost_of(free, TokenUsage(input_tokens=10, output_tokens=10)) == Decimal(0)
