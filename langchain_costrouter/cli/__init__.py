"""The ``costrouter`` command line: ``tco``, ``demo`` and ``bench``."""
