"""The API: GET /count adds one to a counter kept on /data (a named volume) and says its greeting."""
import http.server
import json
import os
import threading

LOCK = threading.Lock()
PATH = "/data/count"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if self.path == "/health":
            body = b"ok"
        else:
            with LOCK:
                n = int(open(PATH).read()) if os.path.exists(PATH) else 0
                open(PATH, "w").write(str(n + 1))
            body = json.dumps({"count": n + 1, "greeting": os.environ["GREETING"]}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("0.0.0.0", 8000), Handler).serve_forever()
