"""I/O adapters that put noio_ws under real servers.

Rules of this package:

- Each module adapts one framework and imports it; nothing here is imported by
  ``import noio_ws``. Use ``noio_ws.integrations.uvicorn`` with the ``uvicorn``
  extra installed (``pip install "noio_ws[uvicorn]"``).
- Adapters use noio_ws's public API only. What an embedding needs and the core
  lacks becomes public, sans-io API of the core, never a reach into private names.
- This package (and the CLI) is the only place where noio_ws does I/O or imports
  asyncio.
"""
