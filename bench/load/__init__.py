"""Layer 5: the load generator adapter (everything that knows evalscope). Must not import
bench.serve.
"""
