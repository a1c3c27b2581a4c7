"""The package version (kept equal to ``[project] version`` in pyproject.toml by a test)."""

__version__ = "3.0.0.dev0"
