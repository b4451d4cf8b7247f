"""Layer 6: a measurement: the sweep, one level, parsing evalscope's records, server
metrics, validity, provenance, outputs, the offline batch.
"""
