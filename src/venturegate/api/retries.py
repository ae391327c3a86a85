"""A request whose database connection was lost before anything of it committed is served once more.

The lost connection reaches the client only when the second run fails too, or when a retry would not be safe
(`store.transactions.retryable`): then the answer is 503 with `Retry-After` (`api.problems`).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from venturegate.store.transactions import attempt

RETRY = "venturegate.retry"
"""Scope key the 503 handler sets when the request may run once more."""


class RetryLostMiddleware:
    """Run a request again, with its body replayed, when its first run ended in a retryable 503."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body: list[Message] = []
        more = True
        while more:  # the body is bounded by `LimitsMiddleware`, outside this one
            message = await receive()
            body.append(message)
            more = message["type"] == "http.request" and bool(message.get("more_body"))
        replay = iter(body)
        held: list[Message] = []

        async def replayed() -> Message:
            return next(replay, None) or await receive()  # past the body: wait for the client to go, as before

        async def first_send(message: Message) -> None:
            if held or (message["type"] == "http.response.start" and scope.get(RETRY)):
                held.append(message)  # dropped: the request runs again
                return
            await send(message)

        with attempt():
            await self.app(scope, replayed, first_send)
        if not held:
            return
        scope.pop(RETRY, None)
        replay = iter(body)
        with attempt(again=True):
            await self.app(scope, replayed, send)
