"""A console client for integration tests: one browser (its cookie jar
and the CSRF token of its last page) over real TLS, and TOTP codes."""
import base64, hashlib, hmac, http.client, re, ssl, struct, time, urllib.parse


class Client:
    def __init__(self, port, cafile, origin=True):
        self.port = port
        self.ctx = ssl.create_default_context(cafile=cafile)
        self.cookies = {}
        self.csrf = ""
        self.origin = origin

    def req(self, method, path, form=None, headers=None, raw_body=None):
        c = http.client.HTTPSConnection("localhost", self.port, context=self.ctx, timeout=30)
        h = {"Host": "localhost:%d" % self.port}
        if self.cookies:
            h["Cookie"] = "; ".join("%s=%s" % kv for kv in self.cookies.items())
        body = raw_body
        if form is not None:
            body = urllib.parse.urlencode(form, doseq=True)
            h["Content-Type"] = "application/x-www-form-urlencoded"
            if self.origin:
                h["Origin"] = "https://localhost:%d" % self.port
        h.update(headers or {})
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read().decode("utf-8", "replace")
        for k, v in r.getheaders():
            if k.lower() == "set-cookie":
                name, _, rest = v.partition("=")
                if "Max-Age=0" in v:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = rest.split(";")[0]
        m = re.search(r'name="csrf" value="([0-9a-f]{64})"', data)
        if m:
            self.csrf = m.group(1)
        c.close()
        r.body = data
        return r

    def login(self, user, password, code=""):
        return self.req("POST", "/login", {"user": user, "password": password, "code": code})


def totp(secret, t=None):
    key = base64.b32decode(secret)
    step = int((t or time.time()) // 30)
    mac = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    off = mac[19] & 15
    v = struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF
    return "%06d" % (v % 1000000)
