"""Pure domain of codex-login: values, policies, errors and ports.

Imports only the standard library and attrs; no I/O, no clock, no environment.
"""
