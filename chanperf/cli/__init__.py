"""The `chanperf` command, one module per command group.

Each command parses options, builds Settings and calls one service; errors chanperf
raises on purpose end the command with their message and a non-zero exit code.
"""

from chanperf.cli.main import main

__all__ = ["main"]
