"""mobile-bff: a compact product card for the mobile app, from catalog, reviews and recommendations.

The card has the product's name, price and first image, a rating summary instead of every
review, and three recommended product ids. Each part gets PART_DEADLINE seconds; a card
without its rating or recommendations is still served, marked partial (``partial``,
``missing``, per-part status). Without the catalog there is no card (503).

    HOST=127.0.0.1 PORT=8320 CATALOG_URL=... REVIEWS_URL=... RECOMMENDATIONS_URL=... \
        PYTHONPATH=../_shared python mobile_bff.py

Env: CATALOG_URL, REVIEWS_URL, RECOMMENDATIONS_URL; PART_DEADLINE (s, 0.4).
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
from servicekit import env_float, health_route, metrics_route, serve

URLS = {name: os.environ.get(f"{name.upper()}_URL", "").rstrip("/") for name in ("catalog", "reviews", "recommendations")}
PART_DEADLINE = env_float("PART_DEADLINE", 0.4)
if not all(URLS.values()):
    raise SystemExit("set CATALOG_URL, REVIEWS_URL and RECOMMENDATIONS_URL")
PATHS = {"catalog": ("/products/{}", "product"), "reviews": ("/reviews/{}", "reviews"),
         "recommendations": ("/recommendations/{}", "recommendations")}

tracker = PartStatusTracker()
client: httpx.AsyncClient


async def product_card(request: Request) -> JSONResponse:
    pid = request.path_params["pid"]
    calls = {name: (lambda n=name: fetch_json(client, URLS[n] + PATHS[n][0].format(pid), key=PATHS[n][1]))
             for name in PATHS}
    parts = await gather_parts(calls, deadline=PART_DEADLINE)
    tracker.observe(parts)
    if not parts["catalog"].ok:
        return JSONResponse({"error": "catalog is unavailable", **envelope(parts)}, status_code=503)
    p = parts["catalog"].data
    card = {"id": p["id"], "name": p["name"], "price": p["price"], "thumbnail": (p.get("images") or [None])[0]}
    reviews = parts["reviews"].data
    card["rating"] = None if reviews is None else {
        "count": len(reviews), "average": round(sum(r["rating"] for r in reviews) / len(reviews), 2) if reviews else None}
    recs = parts["recommendations"].data
    card["recommended"] = None if recs is None else recs[:3]
    return JSONResponse({**card, **envelope(parts)})


@contextlib.asynccontextmanager
async def lifespan(app):
    global client
    async with httpx.AsyncClient(timeout=httpx.Timeout(5.0)) as client:
        yield


app = Starlette(routes=[health_route("mobile-bff"), metrics_route(),
                        Route("/mobile/products/{pid:int}", product_card, methods=["GET"])], lifespan=lifespan)

if __name__ == "__main__":
    serve(app, default_port=8320)
