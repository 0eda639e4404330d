"""The web front: GET / asks the API (at API_URL, as the team configured it) and wraps its answer."""
import http.server
import json
import os
import urllib.request

API = os.environ["API_URL"]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if self.path == "/health":
            status, body = 200, b"ok"
        else:
            try:
                with urllib.request.urlopen(API + "/count", timeout=2) as resp:
                    status, body = 200, json.dumps({"api": json.load(resp)}).encode()
            except OSError as exc:
                status, body = 502, str(exc).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("0.0.0.0", int(os.environ["LISTEN_PORT"])), Handler).serve_forever()
