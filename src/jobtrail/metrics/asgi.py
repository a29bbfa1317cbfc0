"""The metrics server as a plain ASGI application, to mount in any ASGI framework
(Starlette, FastAPI, ...) or serve with any ASGI server; it needs nothing beyond
prometheus_client.

```python
from starlette.routing import Mount
from jobtrail.metrics import asgi_app

routes = [Mount("/ops", app=asgi_app(app))]   # /ops/metrics, /ops/healthz, /ops/livez
```

The answers are `jobtrail.metrics.endpoints.Endpoints`'; each is computed on a thread of
the event loop's default executor, never on the loop (they read the store).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from jobtrail.metrics.endpoints import Endpoints

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
#: An ASGI application.
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def make_asgi(endpoints: Endpoints) -> ASGIApp:
    """An ASGI application answering as *endpoints* does."""

    async def metrics_app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        path = str(scope.get("path", "/"))
        root = str(scope.get("root_path", ""))
        if root and path.startswith(root):  # mounted: the path below the mount point
            path = path[len(root):] or "/"
        accept = ""
        for name, value in scope.get("headers", ()):
            if name.lower() == b"accept":
                accept = value.decode("latin-1")
        method = str(scope.get("method", "GET"))
        loop = asyncio.get_running_loop()
        response = await loop.run_in_executor(None, endpoints.respond, method, path, accept)
        await send({
            "type": "http.response.start", "status": response.status,
            "headers": [(b"content-type", response.content_type.encode("latin-1")),
                        (b"content-length", str(len(response.body)).encode())],
        })
        await send({"type": "http.response.body",
                    "body": b"" if method == "HEAD" else response.body})

    return metrics_app
