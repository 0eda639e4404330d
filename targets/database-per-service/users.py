"""users: customer accounts, in the users database.

    GET /users/{id}  -> {"id", "name", "active"}   (404 unknown, 503 database unavailable)
"""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from dbservice import Unavailable, fetch, make_app, unavailable
from servicekit import serve

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (id int PRIMARY KEY, name text NOT NULL, active boolean NOT NULL);
INSERT INTO users SELECT g, 'user-' || g, true FROM generate_series(1, 100) g ON CONFLICT DO NOTHING;
"""


async def get_user(request: Request) -> JSONResponse:
    try:
        row = await fetch("SELECT id, name, active FROM users WHERE id = %s", (int(request.path_params["id"]),))
    except Unavailable as exc:
        return unavailable(exc)
    if row is None:
        return JSONResponse({"error": "no such user"}, status_code=404)
    return JSONResponse({"id": row[0], "name": row[1], "active": row[2]})


app = make_app("users", SCHEMA, [Route("/users/{id:int}", get_user, methods=["GET"])],
               count_sql="SELECT count(*) FROM users")

if __name__ == "__main__":
    serve(app, default_port=8202)
