"""A bound on request bodies: larger than ``max_body_bytes`` is refused with 413 Payload Too Large.

A declared ``Content-Length`` over the limit is refused before a byte is read; a body without
one (chunked) is counted as it arrives and refused as soon as it passes the limit, so memory
stays bounded whatever the client sends.

This bounds the bytes sent; what they decode to is bounded by the same limit where bodies are
read (:mod:`onshore.service.bodies`: compressed Arrow IPC, Parquet). No route inflates a
``Content-Encoding``: a request with one other than ``identity`` (gzip, zstd, br, deflate) is
refused with 415 (RFC 9110 §15.5.16, with ``Accept-Encoding: identity``) before its body is
read, so a transfer-encoded bomb never reaches a decoder.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from onshore.service.problems import MEDIA_TYPE, URN


class BodyLimit:
    """ASGI middleware: a 413 problem for bodies larger than ``max_bytes``."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        coding = headers.get(b"content-encoding", b"identity").decode("latin-1").strip().lower()
        if coding not in ("", "identity") and scope.get("method") not in ("GET", "HEAD", "OPTIONS"):
            await self._problem(
                scope,
                send,
                415,
                "unsupported-media-type",
                "Unsupported media type",
                f"cannot read a body with Content-Encoding {coding!r}; send it unencoded "
                "(identity), as the service inflates no encoding",
                {"accepted_encodings": ["identity"]},
                [(b"accept-encoding", b"identity")],
            )
            return
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                length = -1
            if length > self.max_bytes:
                await self._refuse(scope, send, f"the body declares {length:,} bytes")
                return
        # Read the body now, counting; hand it on once it is known to fit.
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(scope, send, f"the body passed {self.max_bytes:,} bytes")
                return
            chunks.append(chunk)
            more = bool(message.get("more_body", False))
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, send: Send, why: str) -> None:
        await self._problem(
            scope,
            send,
            413,
            "payload-too-large",
            "Payload too large",
            f"{why}; the limit is {self.max_bytes:,} bytes (onshore serve --max-body-bytes)",
            {"max_body_bytes": self.max_bytes},
        )

    async def _problem(
        self,
        scope: Scope,
        send: Send,
        status: int,
        slug: str,
        title: str,
        detail: str,
        extra: dict[str, Any],
        headers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        payload: dict[str, Any] = {
            "type": URN + slug,
            "title": title,
            "status": status,
            "detail": detail,
            "instance": scope.get("path"),
            **extra,
        }
        data = json.dumps(payload).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", MEDIA_TYPE.encode()),
                    (b"content-length", str(len(data)).encode()),
                    (b"connection", b"close"),
                    *(headers or []),
                ],
            }
        )
        await send({"type": "http.response.body", "body": data})
