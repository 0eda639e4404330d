"""A tiny HTTP target for the load tests: ``python target_app.py PORT``.

``/ok`` answers 200, ``/fail`` 500, ``/slow`` 200 after 2 s (longer than the client waits).
"""
import asyncio
import sys

import uvicorn
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route


async def ok(request):
    return PlainTextResponse("ok")


async def fail(request):
    return PlainTextResponse("boom", status_code=500)


async def slow(request):
    await asyncio.sleep(2.0)
    return PlainTextResponse("late")


app = Starlette(routes=[Route("/ok", ok), Route("/fail", fail), Route("/slow", slow)])

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
