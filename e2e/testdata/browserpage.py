# browserpage serves one tenant's app for the e2e browser tests, as a
# careless app would: its page sets an app cookie (and, asked with
# ?toss=<domain>, a cookie for the parent domain), /secret and /whoami
# answer any origin with credentials (CORS reflected), /sw.js asks for
# a root scope, and an Upgrade: websocket request gets an echo
# WebSocket. The page runs the step the test put in its URL fragment
# (fetches, WebSockets, a service worker, cookie tossing), then goes on
# to the next step's URL carrying the results, and the last page writes
# them all into <pre id="out">.
import base64, hashlib, html, http.server, struct, sys, urllib.parse

NAME = sys.argv[1]
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

PAGE = """<!doctype html><html><body><pre id="seen">%(seen)s</pre><pre id="out">running</pre>
<script>
const NAME = %(name)s;
(async () => {
  const st = location.hash ? JSON.parse(decodeURIComponent(location.hash.slice(1))) : {};
  const steps = st.steps || [], i = st.i || 0, results = st.results || [];
  const step = steps[i] || {};
  const res = {name: NAME, seen: document.getElementById('seen').textContent};
  const out = document.getElementById('out');
  const note = () => { out.textContent = 'so far ' + JSON.stringify(results.concat([res])) };
  try { res.cookie = document.cookie } catch (e) { res.cookie = 'unreadable ' + e.name }
  for (const [k, u] of Object.entries(step.fetch || {})) {
    try {
      const r = await fetch(u, {credentials: 'include'});
      res[k] = r.status + ' ' + (await r.text()).trim();
    } catch (e) { res[k] = 'blocked' }
    note();
  }
  for (const [k, u] of Object.entries(step.ws || {})) {
    res[k] = await new Promise(done => {
      try {
        const w = new WebSocket(u);
        w.onopen = () => w.send('ping');
        w.onmessage = m => { done('echo ' + m.data); w.close() };
        w.onerror = () => done('refused');
        w.onclose = e => done('closed ' + e.code);
      } catch (e) { done('throw ' + e.name) }
    });
    note();
  }
  if (step.sw) {
    try { await navigator.serviceWorker.register(step.sw); res.sw = 'registered' }
    catch (e) { res.sw = 'refused ' + e.name }
  }
  if (step.toss) {
    // A longer path comes first in the Cookie header: a proxy that read
    // only the first token cookie would lock the sibling's users out.
    for (const path of ['/', '/whoami']) {
      try { document.cookie = 'hutch_token=tossed-by-' + NAME + '; domain=' + step.toss + '; path=' + path } catch (e) {}
    }
  }
  results.push(res);
  if (i + 1 < steps.length) {
    location.href = steps[i + 1].url + '#' + encodeURIComponent(JSON.stringify({steps, i: i + 1, results}));
    return;
  }
  out.textContent = 'RESULTS ' + JSON.stringify(results);
})();
</script></body></html>
"""


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, ctype, body, headers=()):
        body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def careless_cors(self):
        return [("Access-Control-Allow-Origin", self.headers.get("Origin", "*")),
                ("Access-Control-Allow-Credentials", "true")]

    def do_GET(self):
        if self.headers.get("Upgrade", "").lower() == "websocket":
            return self.websocket()
        url = urllib.parse.urlsplit(self.path)
        if url.path.endswith("/secret"):
            return self.answer(200, "text/plain", "secret of " + NAME, self.careless_cors())
        if url.path.endswith("/whoami"):
            return self.answer(200, "text/plain", "cookies " + self.headers.get("Cookie", ""), self.careless_cors())
        if url.path.endswith("/sw.js"):
            return self.answer(200, "text/javascript", "self.addEventListener('fetch', () => {});",
                               [("Service-Worker-Allowed", "/")])
        cookies = [("Set-Cookie", "app_%s=secret-%s; Path=/" % (NAME, NAME))]
        for domain in urllib.parse.parse_qs(url.query).get("toss", []):
            cookies.append(("Set-Cookie", "tossed_by_%s=1; Domain=%s; Path=/" % (NAME, domain)))
        seen = html.escape(self.headers.get("Cookie", ""))
        self.answer(200, "text/html", PAGE % {"seen": seen, "name": '"%s"' % NAME}, cookies)

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
                self.wfile.write(bytes([0x80 | op, n]) + data)
                self.wfile.flush()


http.server.ThreadingHTTPServer(("0.0.0.0", 8000), Handler).serve_forever()
