"""Answers how many notes the database holds, reading it through the app->db edge."""
import os

import psycopg
import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route


def health(request):
    return JSONResponse({"status": "ok"})


def notes(request):
    with psycopg.connect(os.environ["DATABASE_URL"], connect_timeout=5) as conn:
        count = conn.execute("SELECT count(*) FROM notes").fetchone()[0]
    return JSONResponse({"notes": count})


app = Starlette(routes=[Route("/health", health), Route("/notes", notes)])

if __name__ == "__main__":
    uvicorn.run(app, host=os.environ["HOST"], port=int(os.environ["PORT"]), log_level="warning")
