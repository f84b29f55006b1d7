"""Entities and links that an event touches, and the velocity updates it feeds."""

from riskops.core.entities.extract import ENTITY_TYPES, Edge, Extraction, Node, extract

__all__ = ["ENTITY_TYPES", "Edge", "Extraction", "Node", "extract"]
