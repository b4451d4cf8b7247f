"""Layer 5: the server under test: its kinds (kinds/, looked up in registry.py), the
handle, readiness, what a running server says about itself (identify.py), the answer
check, the one HTTP helper. Must not import bench.load.
"""
