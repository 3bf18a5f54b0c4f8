"""The JSON Schemas the package ships for its ``--json`` documents (docs/json.md)."""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

from jsonschema import Draft202012Validator


def schema(name: str) -> dict[str, Any]:
    """A schema as the installed package ships it."""
    text = (files("codex_login.entrypoints") / "schemas" / f"{name}.schema.json").read_text()
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def validated(name: str, text: str) -> dict[str, Any]:
    """The document ``text``, validated against the schema ``name`` (formats checked)."""
    document: dict[str, Any] = json.loads(text)
    checker = Draft202012Validator.FORMAT_CHECKER
    Draft202012Validator(schema(name), format_checker=checker).validate(document)
    return document
