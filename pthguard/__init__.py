"""pthguard: refuse to start a Python environment that differs from its signed manifest.

The package imports nothing at import time; the CLI lives in ``pthguard.cli``.
"""

__version__ = "0.1.0"
