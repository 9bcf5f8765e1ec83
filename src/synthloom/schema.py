"""Output schemas: the recipe's short field/type notation becomes JSON Schema, which the backend
uses to constrain decoding and the engine uses to validate (and re-ask)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import jsonschema
import orjson

from synthloom.errors import RecipeError

_SCALARS = {
    "string": "string",
    "str": "string",
    "integer": "integer",
    "int": "integer",
    "number": "number",
    "float": "number",
    "boolean": "boolean",
    "bool": "boolean",
}
_LIST = re.compile(r"^(?:list\[(\w+)\]|(\w+)\[\])$")
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


def _field_schema(
    spec: Any, field: str, error: Callable[[str, str], RecipeError]
) -> dict[str, Any]:
    if isinstance(spec, str):
        name = spec.strip().lower()
        if name in _SCALARS:
            return {"type": _SCALARS[name]}
        match = _LIST.match(name)
        if match and (match.group(1) or match.group(2)) in _SCALARS:
            return {"type": "array", "items": {"type": _SCALARS[match.group(1) or match.group(2)]}}
        raise error(field, f"unknown type {spec!r} (use string, integer, number, boolean, list[T])")
    if isinstance(spec, dict):
        return dict(spec)  # a JSON Schema fragment, checked as a whole below
    raise error(field, "a field type is a name (string, integer, ...) or a JSON Schema mapping")


def _loads(text: str) -> Any:
    """Strict JSON first (fast); then allow raw control characters inside strings, which small
    models emit (a literal newline in an answer) and which lose nothing when accepted."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(text, strict=False)
    except json.JSONDecodeError:
        return None


class OutputSchema:
    def __init__(self, json_schema: dict[str, Any]) -> None:
        self.json_schema = json_schema
        self.fields = list(json_schema.get("properties", {}))
        # a string that must have content (minLength >= 1) is not satisfied by whitespace
        # alone, which small models emit to end a field early
        self._non_blank = [
            name
            for name, spec in json_schema.get("properties", {}).items()
            if isinstance(spec, dict)
            and spec.get("type") == "string"
            and int(spec.get("minLength", 0)) >= 1
        ]
        self._validator = jsonschema.Draft202012Validator(json_schema)

    @classmethod
    def from_spec(
        cls, spec: dict[str, Any], field: str, error: Callable[[str, str], RecipeError]
    ) -> OutputSchema:
        props = {str(k): _field_schema(v, f"{field}.{k}", error) for k, v in spec.items()}
        schema = {
            "type": "object",
            "properties": props,
            "required": list(props),
            "additionalProperties": False,
        }
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as exc:
            path = ".".join(str(p) for p in exc.path if p != "properties")
            raise error(f"{field}.{path}" if path else field, exc.message) from None
        return cls(schema)

    def parse(self, text: str) -> dict[str, Any]:
        """Parse a model reply into an object that satisfies the schema, or raise ValueError
        with a message short enough to send back to the model in a re-ask."""
        body = text.strip()
        fenced = _FENCE.match(body)
        if fenced:
            body = fenced.group(1)
        value = _loads(body)
        if value is None:
            start, end = body.find("{"), body.rfind("}")
            value = _loads(body[start : end + 1]) if 0 <= start < end else None
            if value is None:
                raise ValueError("the reply is not valid JSON") from None
        if not isinstance(value, dict):
            raise ValueError("the reply must be one JSON object")
        error = jsonschema.exceptions.best_match(self._validator.iter_errors(value))
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path) or "object"
            message = error.message
            shown = repr(error.instance)
            if len(message) > 300 and message.startswith(shown):
                # the message opens with the whole bad value; keep what is wrong with it
                message = f"{shown[:60]}... ({len(shown)} chars){message[len(shown) :]}"
            raise ValueError(f"{where}: {message[:300]}")
        for name in self._non_blank:
            if isinstance(value.get(name), str) and not value[name].strip():
                raise ValueError(f"{name}: must not be blank (only whitespace)")
        return value
