"""A stand-in for the Ikanos engine (the Java program Skipper deploys), for the test bed.

Entry point: ../engine_double.py (or `python3 -m engine_double`). See ../README.md.
Modules: document (loading, imports, binds, Mustache), metrics (Prometheus text),
server (HTTP plumbing, authentication, test knobs), adapters (control, REST, skill),
mcp (MCP Streamable HTTP, revision 2026-07-28), cli (start, serve, stop).
"""
