"""flake-bot: triage CI failures of test runners such as MicroPython's."""

__version__ = "0.1.0"
