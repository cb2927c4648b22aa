"""LangChain agent middleware: route every ``create_agent`` model call through the router.

>>> from langchain.agents import create_agent
>>> from langchain_costrouter.agents import CostRouterMiddleware
>>> agent = create_agent(router, tools, middleware=[CostRouterMiddleware(router)])  # doctest: +SKIP
"""

from langchain_costrouter.agents.middleware import ROUTE_KEY, CostRouterMiddleware, scoring_view
from langchain_costrouter.agents.view import RoutedModel

__all__ = ["ROUTE_KEY", "CostRouterMiddleware", "RoutedModel", "scoring_view"]
