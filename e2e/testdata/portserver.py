# portserver answers the e2e port-proxy tests from inside a sandbox:
# GET /... echoes what it saw, /stream sends one chunk and holds the
# second until /release, and an Upgrade: websocket request gets an echo
# WebSocket (text and binary frames, close answered).
import base64, hashlib, http.server, struct, sys, threading

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
release = threading.Event()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.headers.get("Upgrade", "").lower() == "websocket":
            return self.websocket()
        if self.path.startswith("/stream"):
            return self.stream()
        if self.path.startswith("/release"):
            release.set()
        h = self.headers
        body = ("path=%s auth=%s prefix=%s cookie=%s\n" % (self.path, h.get("Authorization", ""),
                h.get("X-Forwarded-Prefix", ""), h.get("Cookie", ""))).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def stream(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.chunk(b"first\n")
        release.wait(120)
        self.chunk(b"second\n")
        self.wfile.write(b"0\r\n\r\n")

    def websocket(self):
        self.close_connection = True
        accept = base64.b64encode(hashlib.sha1((self.headers["Sec-WebSocket-Key"] + GUID).encode()).digest())
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept.decode())
        self.end_headers()
        self.wfile.flush()
        r = self.rfile
        while True:
            head = r.read(2)
            if len(head) < 2:
                return
            op, n = head[0] & 0x0F, head[1] & 0x7F
            if n == 126:
                n = struct.unpack(">H", r.read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", r.read(8))[0]
            mask = r.read(4) if head[1] & 0x80 else b"\0\0\0\0"
            data = bytes(b ^ mask[i % 4] for i, b in enumerate(r.read(n)))
            if op == 8:
                self.wfile.write(b"\x88\x02" + data[:2])
                self.wfile.flush()
                return
            if op in (1, 2):
                size = bytes([n]) if n < 126 else bytes([126]) + struct.pack(">H", n)
                self.wfile.write(bytes([0x80 | op]) + size + data)
                self.wfile.flush()


http.server.ThreadingHTTPServer(("0.0.0.0", int(sys.argv[1]) if len(sys.argv) > 1 else 8000), Handler).serve_forever()
