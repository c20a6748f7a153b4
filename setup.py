"""Packaging for noio_ws. Metadata is static; the version lives in noio_ws/_version.py."""

from pathlib import Path

from setuptools import Extension, find_packages, setup

here = Path(__file__).parent
version: dict[str, str] = {}
exec((here / "noio_ws" / "_version.py").read_text(), version)

# noio_ws.integrations.uvicorn follows uvicorn's protocol-class contract, not a stable
# API: pinned to the minor version it is tested with (0.55 needs Python 3.11; on 3.10,
# 0.54, the last release that runs there, is tested instead).
_UVICORN = [
    "uvicorn>=0.55,<0.56; python_version >= '3.11'",
    "uvicorn>=0.54,<0.55; python_version < '3.11'",
]

setup(
    name="noio_ws",
    version=version["__version__"],
    description="A sans-io implementation of the WebSocket protocol (RFC 6455, RFC 7692)",
    long_description=(here / "README.rst").read_text(),
    long_description_content_type="text/x-rst",
    license="MIT",
    packages=find_packages(include=["noio_ws", "noio_ws.*"]),
    package_data={"noio_ws": ["py.typed"]},
    # The accelerator is optional: without a compiler the build goes on, and the
    # pure-Python path (the reference) is used.
    ext_modules=[Extension("noio_ws._speedups", ["noio_ws/_speedups.c"], optional=True)],
    python_requires=">=3.10",
    install_requires=["h11>=0.16,<1"],
    extras_require={
        "tests": [
            "pytest>=8",
            "pytest-cov>=5",
            "hypothesis>=6.100",
            "websockets>=15",
            "aiohttp>=3.9",
            "trio>=0.25",
            # The uvicorn integration is tested against a real uvicorn on loopback.
            *_UVICORN,
            # The "Running under uvicorn" page serves a Starlette app.
            "starlette>=0.40",
            # RFC 8441: extended CONNECT over h2 in memory, and against hypercorn on loopback.
            "h2>=4.3",
            "hypercorn>=0.18",
        ],
        "lint": ["ruff>=0.6", "mypy>=1.10"],
        # Building the docs (tox -e docs); matplotlib draws the benchmark chart.
        # uvicorn: the API page documents noio_ws.integrations.uvicorn.
        "docs": ["sphinx>=7", "matplotlib>=3.7", *_UVICORN],
        "bench": ["wsproto>=1.2", "websockets>=14", "matplotlib>=3.7"],
        "fuzz": ["atheris>=2.3"],
        "uvicorn": _UVICORN,
    },
    classifiers=[
        "Development Status :: 3 - Alpha",
        "Intended Audience :: Developers",
        "License :: OSI Approved :: MIT License",
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3 :: Only",
        "Programming Language :: Python :: 3.10",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Programming Language :: Python :: 3.13",
        "Topic :: Internet :: WWW/HTTP",
        "Typing :: Typed",
    ],
)
