"""A fake OpenAI-compatible chat-completions server on loopback (aiohttp), for the stage-17 content provider."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class ChatServer:
    """Answers `POST /v1/chat/completions` with the next reply of `replies` (cycled), after `delay` seconds."""

    replies: list[list[dict[str, str]]]
    delay: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append({"body": body, "auth": request.headers.get("Authorization", "")})
        if self.delay:
            await asyncio.sleep(self.delay)
        system = body["messages"][0]["content"]
        n = int(system.split("Write ", 1)[1].split(" ", 1)[0])
        variants = self.replies[(len(self.requests) - 1) % len(self.replies)]
        content = json.dumps({"variants": (variants * n)[:n]})
        return web.json_response(
            {
                "id": f"chatcmpl-{len(self.requests)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "fake"),
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
            }
        )


@contextmanager
def chat_server(replies: list[list[dict[str, str]]], delay: float = 0.0) -> Iterator[ChatServer]:
    """Run a `ChatServer` on 127.0.0.1 in a thread for the duration of the block."""
    server = ChatServer(replies, delay)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    runner_box: dict[str, web.AppRunner] = {}

    async def start() -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", server.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        assert isinstance(site._server, asyncio.Server)
        sockets = site._server.sockets
        server.port = int(sockets[0].getsockname()[1])
        runner_box["r"] = runner

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    started.wait(5)
    try:
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(runner_box["r"].cleanup(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()
