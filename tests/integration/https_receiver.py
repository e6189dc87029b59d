#!/usr/bin/python3
"""A SOC's HTTPS endpoint for the JSON forwarder's test: TLS with a
certificate made by the test, a bearer token (or "-" for none), and each
accepted body appended as one line to OUT. The first FAIL requests get
503, to prove the forwarder retries. With CLIENT_CA, the TLS handshake
requires a client certificate signed by it (mTLS) ("-": none). PORT 0
binds a free port and writes it to OUT.port once it listens.

Strict like a real SIEM: a body that is not valid UTF-8, not JSON (NaN
included), or holds a lone surrogate gets 400 and is not saved. A body
that contains REFUSE (bytes) gets 400 every time: a poisoned alert.

  https_receiver.py PORT CERT KEY OUT TOKEN FAIL [CLIENT_CA [REFUSE]]"""
import http.server
import os
import ssl
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "py"))
import strictjson  # noqa: E402

PORT, CERT, KEY, OUT, TOKEN, FAIL = sys.argv[1:7]
CLIENT_CA = sys.argv[7] if len(sys.argv) > 7 and sys.argv[7] != "-" else None
REFUSE = sys.argv[8].encode() if len(sys.argv) > 8 else None
state = {"fail": int(FAIL)}


def why_refused(body):
    try:
        strictjson.loads(body)
    except (UnicodeError, ValueError) as e:
        return "invalid: %s" % type(e).__name__
    if REFUSE and REFUSE in body:
        return "this alert breaks our schema"
    return None


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if TOKEN != "-" and self.headers.get("Authorization") != "Bearer " + TOKEN:
            self.send_response(401)
        elif self.headers.get("Content-Type") != "application/json":
            self.send_response(415)
        elif state["fail"] > 0:
            state["fail"] -= 1
            self.send_response(503)
        elif why_refused(body):
            answer = why_refused(body).encode()
            self.send_response(400)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)
            with open(OUT + ".refused", "ab") as f:
                f.write(answer + b"\n")
            return
        else:
            with open(OUT, "ab") as f:
                f.write(body.replace(b"\n", b" ") + b"\n")
            self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


server = http.server.HTTPServer(("127.0.0.1", int(PORT)), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(CERT, KEY)
if CLIENT_CA:
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(CLIENT_CA)
server.socket = ctx.wrap_socket(server.socket, server_side=True)
if PORT == "0":
    # Renamed into place: a reader sees the whole number or no file.
    with open(OUT + ".port.tmp", "w") as f:
        f.write("%d\n" % server.server_address[1])
    os.rename(OUT + ".port.tmp", OUT + ".port")
server.serve_forever()
