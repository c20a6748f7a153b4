"""Sphinx configuration for the noio_ws documentation.

Build with ``sphinx-build -W --keep-going -b html docs docs/_build/html`` (or
``tox -e docs``). Everything is generated offline: no intersphinx, no graphviz.
The state diagram in api.rst and the benchmark table in performance.rst are made
at build time by the local extension in ``_ext/noio_ws_docs.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
# The package itself (autodoc imports it) and the local extension.
sys.path[:0] = [str(ROOT), str(DOCS / "_ext")]


def _read_version() -> str:
    """The version from noio_ws/_version.py, read without importing the package."""
    namespace: dict[str, object] = {}
    exec((ROOT / "noio_ws" / "_version.py").read_text(encoding="utf-8"), namespace)
    return str(namespace["__version__"])


project = "noio_ws"
author = "the noio_ws authors"
project_copyright = "the noio_ws authors, MIT License"
release = _read_version()
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "noio_ws_docs",
]

exclude_patterns = ["_build", "_ext"]
templates_path: list[str] = []

# Literal blocks written with "::" are plain text. Python examples use
# ".. code-block:: python" (or "pycon"), and tests/test_docs.py runs every one.
highlight_language = "none"

# autodoc: document what each module exports, in source order, with type hints
# in the description rather than in long signatures.
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented_params"
autodoc_typehints_format = "short"
autodoc_class_signature = "mixed"
autodoc_preserve_defaults = True
autodoc_default_options = {"show-inheritance": True, "exclude-members": "__new__, __init__"}

napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False

html_theme = "alabaster"
html_title = f"noio_ws {release}"
html_theme_options = {
    "description": "A sans-io WebSocket library for Python",
    "fixed_sidebar": True,
    "show_relbars": True,
}
html_static_path: list[str] = []
html_show_sourcelink = False
