"""One module per server kind (sim, command, docker, external), each a `ServerKind`
(kinds/base.py): how it starts, gets ready, stops and describes itself. They are looked up
by the scenario's `server.kind` in bench/serve/registry.py, where each is registered once.
"""
