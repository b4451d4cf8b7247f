"""Layer 5: the server under test: launchers, the handle, readiness, the answer check, the
one HTTP helper. Must not import bench.load.
"""
