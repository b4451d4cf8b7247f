"""Layer 1 (lowest): data models and identities: the scenario models, run results, the
run.json checker, the metric registry. Imports only bench/'s base modules.
"""
