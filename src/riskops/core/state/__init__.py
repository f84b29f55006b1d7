"""Sliding-window state per entity and metric: the pure part (bucketing, windows, aggregation)."""
