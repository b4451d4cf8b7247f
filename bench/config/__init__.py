"""Layer 4: inputs read from files: scenario YAML (extends, overrides) and published
tables. Imports report and below, and the simulator's profile names.
"""
