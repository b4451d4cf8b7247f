"""Workloads: what vlm-bench sends when a scenario has a `workload:` section — real
pictures at many sizes, several per request, repeats at a known rate, captured requests,
local datasets and timed traces (docs/workloads.md). Built before a level starts
(build.py), from local sources only (sources.py, media.py), named by a fingerprint
(fingerprint.py). Imports schema, base and tools only.
"""
