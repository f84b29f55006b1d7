"""Decisions at checkpoints: what a rule can see (the context schema and its features), rulesets,
and the evaluation of a ruleset on one event."""
