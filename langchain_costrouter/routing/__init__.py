"""Routing: difficulty levels, scorers, the route plan, one call's run and its events."""
