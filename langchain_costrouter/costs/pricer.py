"""Prices of a reported model, for the cost handler: the one resolver of
:mod:`langchain_costrouter.pricing.resolver` (the router and the budget guard use it too)."""

from langchain_costrouter.pricing.resolver import PriceMatch, Pricer

__all__ = ["PriceMatch", "Pricer"]
