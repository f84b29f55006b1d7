"""The rules language: a documented subset of CEL, parsed by a maintained CEL parser and
compiled to riskops' own typed AST (see docs/rules.md)."""
