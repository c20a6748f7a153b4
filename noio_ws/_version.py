"""The package version, read by setup.py and the docs without importing the package."""

__version__ = "0.1.0.dev0"
