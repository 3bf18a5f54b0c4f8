"""The fake backend's values: the Responses API documents it answers, its refusals.

Shaped as the openai SDK parses them (``openai.types.responses``): a ``Response``
object, and the stream of events ``responses.create(..., stream=True)`` yields, in the
order the real API sends them for one text message.
"""

from __future__ import annotations

import json
import re
from typing import Any

import attrs

from codex_login.domain.fields_repr import FieldsRepr
from codex_login.testing.issuer.values import Reply

ACCOUNT_HEADER = "ChatGPT-Account-ID"  # what Codex sends with a ChatGPT login's requests
DEFAULT_MODEL = "gpt-5-codex"
DEFAULT_TEXT = "Hello from the fake Codex backend."


def refusal(message: str, code: str, *, status: int = 401) -> Reply:
    """An error as OpenAI's APIs shape it: ``{"error": {message, type, param, code}}``."""
    kind = "invalid_request_error"
    return Reply(status, {"error": {"message": message, "type": kind, "param": None, "code": code}})


@attrs.frozen(repr=False)
class Answer(FieldsRepr):
    """One model answer: its ids, model, creation time and text."""

    response_id: str
    message_id: str
    model: str
    created_at: int
    text: str

    def message(self, *, done: bool = True) -> dict[str, Any]:
        """The output message item (empty and in progress while it streams)."""
        content = [_output_text(self.text)] if done else []
        return {
            "type": "message",
            "id": self.message_id,
            "role": "assistant",
            "status": "completed" if done else "in_progress",
            "content": content,
        }

    def response(self, *, done: bool = True) -> dict[str, Any]:
        """The ``Response`` object: completed with its message, or just created."""
        return {
            "id": self.response_id,
            "object": "response",
            "created_at": self.created_at,
            "model": self.model,
            "status": "completed" if done else "in_progress",
            "output": [self.message()] if done else [],
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
            "error": None,
            "incomplete_details": None,
            "instructions": None,
            "metadata": {},
            "temperature": None,
            "top_p": None,
            "usage": _usage(self.text) if done else None,
        }

    def events(self) -> list[dict[str, Any]]:
        """The streamed events, numbered: created, in progress, the message and its text
        part added, one delta per word, the text, part and message done, completed."""
        where = {"item_id": self.message_id, "output_index": 0, "content_index": 0}
        deltas = [
            {"type": "response.output_text.delta", **where, "delta": piece, "logprobs": []}
            for piece in re.findall(r"\s*\S+\s*", self.text)
        ]
        started, item = self.response(done=False), self.message(done=False)
        events: list[dict[str, Any]] = [
            {"type": "response.created", "response": started},
            {"type": "response.in_progress", "response": started},
            {"type": "response.output_item.added", "output_index": 0, "item": item},
            {"type": "response.content_part.added", **where, "part": _output_text("")},
            *deltas,
            {"type": "response.output_text.done", **where, "text": self.text, "logprobs": []},
            {"type": "response.content_part.done", **where, "part": _output_text(self.text)},
            {"type": "response.output_item.done", "output_index": 0, "item": self.message()},
            {"type": "response.completed", "response": self.response()},
        ]
        return [{**event, "sequence_number": number} for number, event in enumerate(events)]


def sse(event: dict[str, Any]) -> bytes:
    """One Server-Sent Event: ``event: TYPE`` and ``data: JSON`` lines, a blank line."""
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


def _output_text(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def _usage(text: str) -> dict[str, Any]:
    words = len(text.split())
    return {
        "input_tokens": 1,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": words,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 1 + words,
    }
