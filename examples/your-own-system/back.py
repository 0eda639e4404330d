"""The back end of the guide's shop: GET /stock/<item> answers how many are in stock.

Plain standard library, listening on $PORT (the harness gives it one; run it yourself with PORT=8765).
"""
import http.server
import json
import os


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path == "/health":
            body = b"ok"
        else:
            body = json.dumps({"item": self.path.rsplit("/", 1)[-1], "stock": 3}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


http.server.ThreadingHTTPServer((os.environ.get("HOST", "127.0.0.1"), int(os.environ["PORT"])), Handler).serve_forever()
