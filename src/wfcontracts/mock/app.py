"""The mock as a Starlette ASGI app: one catch-all route adapting to the dispatcher."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.convertors import PathConvertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from wfcontracts.mock.http import MockRequest

if TYPE_CHECKING:
    from wfcontracts.mock.service import MockService

METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]


class AnyPathConvertor(PathConvertor):
    """Starlette's `path` without its blind spot: `.*` stops at a decoded newline (`%0A`), so
    such paths got Starlette's plain-text 404 instead of the dispatcher's error envelope."""

    regex = r"[\s\S]*"


register_url_convertor("anypath", AnyPathConvertor())


def create_app(service: MockService) -> Starlette:
    """An ASGI app serving `/api/v1/projects/{project}/…` and `/_mock/*` for `service`."""

    async def endpoint(request: Request) -> Response:
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        mock_request = MockRequest(
            method=request.method,
            raw_path=raw_path.decode("latin-1").partition("?")[0],
            query=request.scope.get("query_string", b"").decode("latin-1"),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=await request.body(),
        )
        # The domain is fast and serialised by its own lock: a threadpool hop would only add
        # latency with one worker.
        result = service.handle(mock_request)
        return Response(result.body, status_code=result.status, headers=result.headers)

    app = Starlette(routes=[Route("/{path:anypath}", endpoint, methods=METHODS)])
    app.state.service = service
    return app
