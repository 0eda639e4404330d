"""catalog: products and their prices, in the catalog database.

    GET /products/{id}  -> {"id", "name", "price_cents"}   (404 unknown, 503 database unavailable)
"""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from dbservice import Unavailable, fetch, make_app, unavailable
from servicekit import serve

SCHEMA = """
CREATE TABLE IF NOT EXISTS products (id int PRIMARY KEY, name text NOT NULL, price_cents int NOT NULL);
INSERT INTO products SELECT g, 'product-' || g, 100 + (g * 37) % 900 FROM generate_series(1, 100) g
ON CONFLICT DO NOTHING;
"""


async def get_product(request: Request) -> JSONResponse:
    try:
        row = await fetch("SELECT id, name, price_cents FROM products WHERE id = %s", (int(request.path_params["id"]),))
    except Unavailable as exc:
        return unavailable(exc)
    if row is None:
        return JSONResponse({"error": "no such product"}, status_code=404)
    return JSONResponse({"id": row[0], "name": row[1], "price_cents": row[2]})


app = make_app("catalog", SCHEMA, [Route("/products/{id:int}", get_product, methods=["GET"])],
               count_sql="SELECT count(*) FROM products")

if __name__ == "__main__":
    serve(app, default_port=8201)
