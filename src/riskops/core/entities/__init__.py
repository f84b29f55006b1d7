"""Entities and links that an event touches, and the velocity updates it feeds."""

from riskops.core.entities.extract import ENTITY_TYPES, EdgeRef, EntityRef, Extraction, extract

__all__ = ["ENTITY_TYPES", "EdgeRef", "EntityRef", "Extraction", "extract"]
