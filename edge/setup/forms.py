"""The rule forms of the editor, generated from the pydantic rule models.

Each rule type of the catalogue (:mod:`edge.rules.configs`) becomes a list of fields with
their kind (number, integer, boolean, choice, text, list of names, zone, direction vector),
default, limits and description, read from the model's JSON schema and its fields' defaults.
The page builds its inputs from this; the config checker still validates what they give.
"""

from __future__ import annotations

import logging
import typing
from typing import Any

from pydantic import BaseModel

from edge.config import Rule

log = logging.getLogger(__name__)

LIMITS = {"minimum": "min", "maximum": "max", "exclusiveMinimum": "gt", "exclusiveMaximum": "lt"}


def rule_models() -> dict[str, type[BaseModel]]:
    """Rule type -> its config model, from the box config's discriminated union."""
    union = typing.get_args(Rule)[0]
    out: dict[str, type[BaseModel]] = {}
    for model in typing.get_args(union):
        kind = typing.get_args(model.model_fields["type"].annotation)[0]
        out[kind] = model
    return out


def _kind(name: str, prop: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The input kind of one schema property, and the property with a null branch removed."""
    if "anyOf" in prop:
        branches = [b for b in prop["anyOf"] if b.get("type") != "null"]
        prop = {**prop, **(branches[0] if branches else {})}
    if name == "zone":
        return "zone", prop
    if "enum" in prop:
        return "enum", prop
    t = prop.get("type")
    if t == "array":
        if "prefixItems" in prop:
            return "vector", prop
        return "list", prop
    if t in ("number", "integer", "boolean"):
        return str(t), prop
    return "text", prop


def rule_form(kind: str, model: type[BaseModel]) -> dict[str, Any]:
    """The form of one rule type: ``{"type", "doc", "fields": [...]}``."""
    schema = model.model_json_schema()
    required = set(schema.get("required", []))
    fields = []
    for name, raw in schema["properties"].items():
        if name == "type":
            continue
        what, prop = _kind(name, raw)
        info = model.model_fields[name]
        default = None if info.is_required() else info.get_default(call_default_factory=True)
        field: dict[str, Any] = {
            "name": name, "kind": what, "required": name in required,
            "default": list(default) if isinstance(default, tuple | list) else default,
            "description": prop.get("description", ""),
        }
        if what == "enum":
            field["options"] = list(prop["enum"])
        for key, short in LIMITS.items():
            if key in prop:
                field[short] = prop[key]
        fields.append(field)
    doc = (model.__doc__ or "").strip().split("\n\n")[0]
    return {"type": kind, "doc": " ".join(doc.split()), "fields": fields}


def rule_forms() -> list[dict[str, Any]]:
    """Every rule type's form, in the catalogue's order."""
    from edge.rules.configs import RULE_TYPES

    models = rule_models()
    return [rule_form(k, models[k]) for k in RULE_TYPES if k in models]
