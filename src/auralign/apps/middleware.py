"""Two pure-ASGI guards in front of every route: the bearer token and the request body limit.

Both answer before the app reads anything: a wrong token never reaches a route, and an upload over the
limit is refused from its Content-Length header, or, when the client streams without one, as soon as
the bytes received pass the limit (the rest is never read).
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs

from starlette.exceptions import HTTPException

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

TOKEN_COOKIE = "auralign_token"


async def send_json(send: Send, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]] = ()) -> None:
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": data})


class BearerToken:
    """Every request must carry the token: `Authorization: Bearer <token>`, or the cookie the page gets.

    Opening `/?token=<token>` once in a browser sets an HttpOnly, SameSite=Strict cookie and redirects
    to `/`, so the page, its audio players and its requests work without putting the token in URLs.
    """

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._matches(_bearer(scope)) or self._matches(_cookie(scope)):
            await self.app(scope, receive, send)
            return
        query = parse_qs(scope.get("query_string", b"").decode(errors="replace")).get("token", [None])[0]
        if scope["path"] == "/" and scope["method"] == "GET" and self._matches(query):
            cookie = f"{TOKEN_COOKIE}={query}; HttpOnly; SameSite=Strict; Path=/"
            await send({"type": "http.response.start", "status": 303,
                        "headers": [(b"location", b"/"), (b"set-cookie", cookie.encode()),
                                    (b"content-length", b"0")]})
            await send({"type": "http.response.body", "body": b""})
            return
        await send_json(send, 401, {"detail": "missing or wrong token (Authorization: Bearer <token>)"},
                        [(b"www-authenticate", b"Bearer")])

    def _matches(self, candidate: str | None) -> bool:
        return candidate is not None and hmac.compare_digest(candidate.encode(), self.token)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _bearer(scope: Scope) -> str | None:
    value = _header(scope, b"authorization")
    if value and value.lower().startswith("bearer "):
        return value[7:].strip()
    return None


def _cookie(scope: Scope) -> str | None:
    value = _header(scope, b"cookie")
    if not value:
        return None
    cookie = SimpleCookie()
    try:
        cookie.load(value)
    except Exception:  # a malformed Cookie header is simply no token
        return None
    morsel = cookie.get(TOKEN_COOKIE)
    return morsel.value if morsel else None


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {_size(limit)}")


class BodyLimit:
    """Multipart uploads may be up to `upload_bytes`; every other body up to `body_bytes`."""

    def __init__(self, app: ASGIApp, upload_bytes: int, body_bytes: int) -> None:
        self.app = app
        self.upload_bytes = upload_bytes
        self.body_bytes = body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        content_type = _header(scope, b"content-type") or ""
        limit = self.upload_bytes if content_type.startswith("multipart/form-data") else self.body_bytes
        declared = _header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await send_json(send, 413, {"detail": f"request body larger than {_size(limit)}"},
                            [(b"connection", b"close")])
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge as error:
            if started:
                raise
            await send_json(send, 413, {"detail": error.detail}, [(b"connection", b"close")])


def _size(limit: int) -> str:
    return f"{limit / 2**20:g} MB" if limit >= 2**20 else f"{limit} bytes"
