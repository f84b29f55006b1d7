"""JSON Schema of the catalogue (what `riskops schema` prints)."""

from __future__ import annotations

from typing import Any

from riskops.core.events.catalogue import CATALOGUE
from riskops.core.events.envelope import EnvelopeIn


def catalogue_schema() -> dict[str, Any]:
    """One JSON Schema document: the envelope, plus each type's payload under ``$defs``, and a
    ``oneOf`` that ties ``type`` to its payload schema."""
    envelope = EnvelopeIn.model_json_schema()
    defs: dict[str, Any] = dict(envelope.pop("$defs", {}))
    variants: list[dict[str, Any]] = []
    for name, event_type in sorted(CATALOGUE.items()):
        schema = event_type.payload.model_json_schema(ref_template="#/$defs/{model}")
        defs.update(schema.pop("$defs", {}))
        schema["additionalProperties"] = True
        schema["description"] = (
            f"{event_type.summary} Unknown fields are kept in the event's extensions."
        )
        def_name = "payload." + name
        defs[def_name] = schema
        variants.append(
            {
                "properties": {
                    "type": {"const": name},
                    "schema_version": {"const": event_type.version},
                    "payload": {"$ref": f"#/$defs/{def_name}"},
                }
            }
        )
    envelope["properties"]["type"]["enum"] = sorted(CATALOGUE)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **envelope,
        "title": "riskops event",
        "description": "One event: the envelope, and the payload of its type (see oneOf).",
        "oneOf": variants,
        "$defs": defs,
    }
