"""The rule language: validation of definitions, compilation to closures, pure evaluation.

Nothing in this package touches the database; ``rules.services`` loads rules and contexts, calls
the evaluator and writes what changed.
"""
