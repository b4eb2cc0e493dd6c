"""Shared infrastructure of the real-environment tests: interpreters, venvs, wheels."""
