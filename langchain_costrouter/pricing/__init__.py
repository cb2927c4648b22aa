"""Prices (genai-prices, Decimal) and token counting (tiktoken, offline)."""
