"""The front of the guide's shop: GET /item/<id> asks the back end for the stock, with a deadline.

Its resilience mechanism: when the back end is slow or down (no answer within BACK_TIMEOUT
seconds) it still answers 200, saying the stock is unknown. FALLBACK=0 (the defect) turns that off:
then it waits as long as the back end takes, and a failure is a 502.
"""
import http.server
import json
import os
import urllib.request

BACK = os.environ["BACK_URL"]
TIMEOUT = float(os.environ.get("BACK_TIMEOUT", "0.3"))
FALLBACK = os.environ.get("FALLBACK", "1") == "1"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path == "/health":
            status, body = 200, {"ok": True}
        else:
            item = self.path.rsplit("/", 1)[-1]
            try:
                with urllib.request.urlopen(f"{BACK}/stock/{item}", timeout=TIMEOUT if FALLBACK else 30) as resp:
                    status, body = 200, {"item": item, "stock": json.load(resp)["stock"]}
            except OSError as exc:
                status, body = (200, {"item": item, "stock": None, "degraded": True}) if FALLBACK else \
                    (502, {"error": str(exc)})
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


http.server.ThreadingHTTPServer((os.environ.get("HOST", "127.0.0.1"), int(os.environ["PORT"])), Handler).serve_forever()
