"""A seeded marketplace simulator with labelled attacks (see docs/simulator.md)."""

from riskops.simulator.config import ATTACKS, MARKETS, SimConfig
from riskops.simulator.run import SimSummary, days, simulate

__all__ = ["ATTACKS", "MARKETS", "SimConfig", "SimSummary", "days", "simulate"]
