"""Shared test setup: the local-server fixtures that ship with the package.

Users load the same fixtures in their own tests with
``pytest_plugins = ["langchain_costrouter.testing.pytest_plugin"]``.
"""

pytest_plugins = ["langchain_costrouter.testing.pytest_plugin"]
