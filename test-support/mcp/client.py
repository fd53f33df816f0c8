"""A scripted MCP client on the Python SDK (`mcp` 2.3.0), for the gateway's tests.

    python3 client.py URL MODE [HEADER=VALUE ...]

MODE is `legacy` (the session-based 2025-11-25 handshake: `Client(mode="legacy")`) or
`modern` (`mode="auto"`: the SDK probes `server/discover` and adopts 2026-07-28 when the
server answers it). HEADER=VALUE pairs are sent on every HTTP request (an Authorization
header, say).

The test drives it over stdin/stdout, one JSON object a line each way, so that it can act
on the gateway between two steps (restart it, swap its table). Each command gets exactly
one answer line; an exception becomes {"error": {"code", "message"}}. Commands ("op"):

  info                  protocol version, the session id in use, the session ids sent
  list_tools | list_prompts | list_resources | list_resource_templates
  call_tool             name, arguments; progress: true collects progress notifications;
                        cancel_after_progress: N cancels once N progress notifications came,
                        cancel_after_s: S cancels after S seconds
  get_prompt            name, arguments
  read_resource         uri
  listen                start watching list changes: legacy waits until the GET stream is
                        open; modern opens `subscriptions/listen` (tools, prompts, resources)
  wait_list_changed     timeout (s): the methods of the list-change notifications seen
  quit
"""

import json
import sys
import time

import anyio
import httpx2
import mcp_types as types
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError


def dump(model):
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


class Driver:
    def __init__(self, url, mode, headers):
        self.url, self.mode, self.headers = url, mode, headers
        self.sent_sessions = []  # the Mcp-Session-Id of every request, in order
        self.get_stream_open = anyio.Event()
        self.changes = []
        self.changed = anyio.Event()

    async def on_request(self, request):
        session = request.headers.get("mcp-session-id")
        if session is not None and (not self.sent_sessions or self.sent_sessions[-1] != session):
            self.sent_sessions.append(session)

    async def on_response(self, response):
        content_type = response.headers.get("content-type", "")
        if response.request.method == "GET" and response.status_code == 200 and content_type.startswith("text/event-stream"):
            self.get_stream_open.set()

    def note_change(self, method):
        self.changes.append(method)
        self.changed.set()

    async def on_message(self, message):
        # Session-based list changes arrive here, from the GET stream.
        if isinstance(message, types.ServerNotification):
            method = getattr(message, "method", None) or getattr(getattr(message, "root", None), "method", None)
            if method and method.endswith("/list_changed"):
                self.note_change(method)

    async def run(self):
        hooks = {"request": [self.on_request], "response": [self.on_response]}
        http = httpx2.AsyncClient(headers=self.headers, event_hooks=hooks,
                                  timeout=httpx2.Timeout(30, read=300))
        transport = streamable_http_client(self.url, http_client=http)
        mode = "legacy" if self.mode == "legacy" else "auto"
        async with http, Client(transport, mode=mode, message_handler=self.on_message, cache=None) as client:
            self.client = client
            async with anyio.create_task_group() as tg:
                self.tg = tg
                while True:
                    line = await anyio.to_thread.run_sync(sys.stdin.readline)
                    if not line or not line.strip():
                        break
                    command = json.loads(line)
                    if command.get("op") == "quit":
                        break
                    try:
                        answer = await self.handle(command)
                    except MCPError as error:
                        answer = {"error": {"code": error.error.code, "message": error.error.message}}
                    except Exception as error:  # the test reads the failure instead of a hang
                        answer = {"error": {"code": None, "message": f"{type(error).__name__}: {error}"}}
                    print(json.dumps(answer), flush=True)
                tg.cancel_scope.cancel()

    async def handle(self, command):
        op = command["op"]
        client = self.client
        if op == "info":
            return {"protocol_version": client.protocol_version, "sessions": self.sent_sessions,
                    "server_info": dump(client.server_info) if client.server_info else None}
        if op == "list_tools":
            return dump(await client.list_tools())
        if op == "list_prompts":
            return dump(await client.list_prompts())
        if op == "list_resources":
            return dump(await client.list_resources())
        if op == "list_resource_templates":
            return dump(await client.list_resource_templates())
        if op == "get_prompt":
            return dump(await client.get_prompt(command["name"], command.get("arguments") or {}))
        if op == "read_resource":
            return dump(await client.read_resource(command["uri"]))
        if op == "call_tool":
            return await self.call_tool(command)
        if op == "listen":
            return await self.listen()
        if op == "wait_list_changed":
            with anyio.move_on_after(command.get("timeout", 10)):
                await self.changed.wait()
            changes, self.changes = self.changes, []
            self.changed = anyio.Event()
            return {"changes": changes}
        raise ValueError(f"unknown op {op}")

    async def call_tool(self, command):
        progress = []
        enough = anyio.Event()
        limit = command.get("cancel_after_progress")
        after = command.get("cancel_after_s")

        async def on_progress(value, total, message):
            progress.append({"progress": value, "total": total, "message": message})
            if limit is not None and len(progress) >= limit:
                enough.set()

        callback = on_progress if (command.get("progress") or limit is not None) else None
        answer = {}
        started = time.monotonic()

        async def call():
            try:
                outcome = await self.client.call_tool(command["name"], command.get("arguments") or {},
                                                      progress_callback=callback)
                answer["result"] = dump(outcome)
            except MCPError as error:
                answer["error"] = {"code": error.error.code, "message": error.error.message}
            enough.set()

        if limit is None and after is None:
            await call()
        else:
            async with anyio.create_task_group() as tg:
                tg.start_soon(call)
                with anyio.move_on_after(after if after is not None else 3600):
                    await enough.wait()
                if "result" not in answer and "error" not in answer:
                    answer["cancelled"] = True
                tg.cancel_scope.cancel()
        answer["progress"] = progress
        answer["elapsed_s"] = round(time.monotonic() - started, 3)
        return answer

    async def listen(self):
        if self.mode == "legacy":
            with anyio.fail_after(10):
                await self.get_stream_open.wait()
            return {"listening": "get"}
        opened = anyio.Event()
        honored = {}

        async def watch():
            async with self.client.listen(tools_list_changed=True, prompts_list_changed=True,
                                          resources_list_changed=True) as subscription:
                honored.update(dump(subscription.honored))
                opened.set()
                async for event in subscription:
                    self.note_change(type(event).__name__)

        self.tg.start_soon(watch)
        with anyio.fail_after(10):
            await opened.wait()
        return {"listening": "subscriptions/listen", "honored": honored}


def main(argv):
    url, mode = argv[1], argv[2]
    if mode not in ("legacy", "modern"):
        raise SystemExit(f"mode must be legacy or modern, not {mode!r}")
    headers = dict(pair.split("=", 1) for pair in argv[3:])
    anyio.run(Driver(url, mode, headers).run)


if __name__ == "__main__":
    main(sys.argv)
