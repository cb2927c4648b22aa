"""The models the router calls: the catalog, the pool of chat models, streaming and
structured-output helpers, the local model."""
