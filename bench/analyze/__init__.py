"""Layer 2: pure judgement on results: statistics, comparison and comparability rules, the
gate's verdicts. Imports schema and base.
"""
