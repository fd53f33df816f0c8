"""A small MCP server on the Python SDK (`mcp` 2.3.0) for the gateway's tests: what the
engine double does not do — progress, slow tools, cancellation — over the SDK's own
Streamable HTTP server, which answers the stateless 2026-07-28 revision the gateway uses
upstream (and streams SSE when a tool reports progress).

    python3 server.py PORT

Serves http://127.0.0.1:PORT/mcp. Prints "ready" on stdout once listening, and one line
"cancelled TAG" whenever a `wait` call is cancelled (the gateway dropped the request).

Tools:
  count(n, delay_ms)   reports progress 1..n, one every delay_ms, then returns "counted n"
  wait(seconds, tag)   sleeps; a cancellation is printed and remembered
  cancelled()          the tags of the cancelled waits, as JSON
  headers()            the HTTP headers this call arrived with, as JSON
  get-ship(imo)        the same name as the engine documents' tool (a collision)
  region(region, query) `region` is mirrored into the `Mcp-Param-Region` header
                       (x-mcp-header), which the SDK's server checks against the body;
                       returns the header it got
"""

import json
import socket
import sys
from typing import Annotated

import anyio
import uvicorn
from mcp.server.mcpserver import Context, MCPServer
from pydantic import Field

server = MCPServer("slowyard", version="1.0.0")
cancelled_tags = []


@server.tool()
async def count(n: int, delay_ms: int, ctx: Context) -> str:
    """Count to n, reporting progress."""
    for i in range(1, n + 1):
        await anyio.sleep(delay_ms / 1000)
        await ctx.report_progress(i, n, f"step {i}")
    return f"counted {n}"


@server.tool()
async def wait(seconds: float, tag: str) -> str:
    """Sleep, noting a cancellation."""
    try:
        await anyio.sleep(seconds)
    except anyio.get_cancelled_exc_class():
        cancelled_tags.append(tag)
        print(f"cancelled {tag}", flush=True)
        raise
    return f"waited {seconds}"


@server.tool()
async def cancelled() -> str:
    """The tags of cancelled waits."""
    return json.dumps(cancelled_tags)


@server.tool()
async def headers(ctx: Context) -> str:
    """The request's HTTP headers."""
    return json.dumps({k.lower(): v for k, v in (ctx.headers or {}).items()}, sort_keys=True)


@server.tool(name="get-ship")
async def get_ship(imo: str) -> str:
    """A ship, from the slow yard."""
    return json.dumps({"imo": imo, "yard": "slowyard"})


@server.tool()
async def region(region: Annotated[str, Field(json_schema_extra={"x-mcp-header": "Region"})], query: str,
                 ctx: Context) -> str:
    """A call routed by a header."""
    return (ctx.headers or {}).get("mcp-param-region", "")


@server.prompt()
def hurry(task: str) -> str:
    """Ask for speed."""
    return f"Please do {task} quickly."


async def main(port):
    app = server.streamable_http_app(streamable_http_path="/mcp", host="127.0.0.1")
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    http = uvicorn.Server(config)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))

    async def announce():
        while not http.started:
            await anyio.sleep(0.02)
        print("ready", flush=True)

    async with anyio.create_task_group() as tg:
        tg.start_soon(announce)
        await http.serve(sockets=[sock])


if __name__ == "__main__":
    anyio.run(main, int(sys.argv[1]))
