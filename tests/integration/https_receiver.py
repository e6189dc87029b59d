#!/usr/bin/python3
"""A SOC's HTTPS endpoint for the JSON forwarder's test: TLS with a
certificate made by the test, a bearer token (or "-" for none), and each
accepted body appended as one line to OUT. The first FAIL requests get
503, to prove the forwarder retries. With CLIENT_CA, the TLS handshake
requires a client certificate signed by it (mTLS).

  https_receiver.py PORT CERT KEY OUT TOKEN FAIL [CLIENT_CA]"""
import http.server
import ssl
import sys

PORT, CERT, KEY, OUT, TOKEN, FAIL = sys.argv[1:7]
CLIENT_CA = sys.argv[7] if len(sys.argv) > 7 else None
state = {"fail": int(FAIL)}


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
server.serve_forever()
