"""An HTTP/1.1 upstream for the HTTP fault tests: ``python http_upstream.py PORT``.

Keep-alive (uvicorn), chunked and length-delimited bodies both ways, and a count of the
requests that reached it, so a test can tell a request the toxic answered from one that
passed. ``/item/{n}`` names the client address it came from: one address, one connection.
"""
import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

served = 0
BIG = b"0123456789" * 10_000  # 100 kB


def counted(handler):
    async def wrapper(request: Request) -> Response:
        global served
        served += 1
        return await handler(request)
    return wrapper


async def item(request: Request) -> Response:
    client = request.client
    return JSONResponse({"n": int(request.path_params["n"]), "client": f"{client.host}:{client.port}" if client else ""})


async def echo(request: Request) -> Response:
    return Response(await request.body(), media_type="application/octet-stream")


async def big(request: Request) -> Response:
    return Response(BIG, media_type="application/octet-stream")


async def stream(request: Request) -> Response:
    async def parts():
        for i in range(0, len(BIG), 7_000):
            yield BIG[i:i + 7_000]
    return StreamingResponse(parts(), media_type="application/octet-stream")


async def count(request: Request) -> Response:
    return PlainTextResponse(str(served))


app = Starlette(routes=[
    Route("/item/{n:int}", counted(item)), Route("/echo", counted(echo), methods=["POST", "PUT"]),
    Route("/big", counted(big)), Route("/stream", counted(stream)), Route("/count", count),
])

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
