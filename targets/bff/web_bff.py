"""web-bff: the product page for the web front end, from catalog and reviews.

The web page shows the full product and every review; it has no use for recommendations.
Each part gets PART_DEADLINE seconds; without reviews the page is still served, marked
partial. Without the catalog there is no page (503).

    HOST=127.0.0.1 PORT=8310 CATALOG_URL=... REVIEWS_URL=... PYTHONPATH=../_shared python web_bff.py

Env: CATALOG_URL, REVIEWS_URL, RECOMMENDATIONS_URL; PART_DEADLINE (s, 0.8);
SHARED_FATE (false): the "shared-fate" defect. The web BFF then uses the generic product fetch
that a one-size-fits-all backend would: every part, recommendations included, awaited with no
deadline, so a slow recommendations service stalls the web page that never shows them.
"""
from __future__ import annotations

import contextlib
import os

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from fanout import PartStatusTracker, envelope, fetch_json, gather_parts
from servicekit import env_flag, env_float, health_route, metrics_route, serve

URLS = {name: os.environ.get(f"{name.upper()}_URL", "").rstrip("/") for name in ("catalog", "reviews", "recommendations")}
PART_DEADLINE = env_float("PART_DEADLINE", 0.8)
SHARED_FATE = env_flag("SHARED_FATE", False)
NEEDED = ("catalog", "reviews", "recommendations") if SHARED_FATE else ("catalog", "reviews")
for _name in NEEDED:
    if not URLS[_name]:
        raise SystemExit(f"set {_name.upper()}_URL")
PATHS = {"catalog": ("/products/{}", "product"), "reviews": ("/reviews/{}", "reviews"),
         "recommendations": ("/recommendations/{}", "recommendations")}

tracker = PartStatusTracker()
client: httpx.AsyncClient


async def product_page(request: Request) -> JSONResponse:
    pid = request.path_params["pid"]
    calls = {name: (lambda n=name: fetch_json(client, URLS[n] + PATHS[n][0].format(pid), key=PATHS[n][1]))
             for name in NEEDED}
    parts = await gather_parts(calls, deadline=None if SHARED_FATE else PART_DEADLINE)
    tracker.observe(parts)
    if not parts["catalog"].ok:
        return JSONResponse({"error": "catalog is unavailable", **envelope(parts)}, status_code=503)
    body = {"product": parts["catalog"].data, "reviews": parts["reviews"].data}
    return JSONResponse({**body, **envelope(parts)})


@contextlib.asynccontextmanager
async def lifespan(app):
    global client
    # The shared-fate fetch waits as long as any part takes: no client timeout either.
    async with httpx.AsyncClient(timeout=None if SHARED_FATE else httpx.Timeout(5.0)) as client:
        yield


app = Starlette(routes=[health_route("web-bff"), metrics_route(),
                        Route("/web/products/{pid:int}", product_page, methods=["GET"])], lifespan=lifespan)

if __name__ == "__main__":
    serve(app, default_port=8310)
