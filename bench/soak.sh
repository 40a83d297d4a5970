#!/usr/bin/env bash
# Soak: `mailsetup serve` under mixed traffic on loopback for MINUTES
# (default 10): autoconfig, Autodiscover (POX and v2 JSON), Apple profile,
# iPhone steps, the page and its assets, the lookup API, QR codes, health
# and metrics, bad requests (no address, malformed addresses, unknown
# domains, broken and oversized XML, garbage bytes) and slow clients that
# trickle their request a byte at a time or stop half-way.
#
# Every 10 s it samples the server's resident memory (RSS) and open file
# descriptors. It fails (exit 1) when either grows after warm-up — the
# first fifth of the run, at least 60 s — or when any request got a 5xx,
# or the server died. Not run in CI: it takes minutes.
#
#   ./bench/soak.sh          10 minutes
#   ./bench/soak.sh 2        2 minutes
#   MAILSETUP_BIN=target/debug/mailsetup ./bench/soak.sh 1
set -euo pipefail
cd "$(dirname "$0")/.."

MINUTES="${1:-10}"
case "$MINUTES" in '' | *[!0-9]*) echo "usage: bench/soak.sh [MINUTES]" >&2; exit 2 ;; esac
SECS=$((MINUTES * 60))
PORT="${SOAK_PORT:-18090}"
WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

for tool in python3 curl; do
  command -v "$tool" >/dev/null || { echo "bench/soak.sh: $tool is missing (scripts/install-deps.sh)" >&2; exit 1; }
done

BIN="${MAILSETUP_BIN:-}"
if [ -z "$BIN" ]; then
  ./scripts/build-release.sh --quiet
  BIN=target/release/mailsetup
fi

if curl -s -o /dev/null "http://127.0.0.1:$PORT/"; then
  echo "bench/soak.sh: port $PORT is in use (set SOAK_PORT)" >&2
  exit 1
fi

DOMAIN=soak.example
cat >"$WORK/mail.toml" <<EOF
[rate_limit]
per_minute = 0
[[domain]]
name = "$DOMAIN"
display_name = "Soak <Mail> & Co"
incoming = [{ url = "imaps://imap.$DOMAIN:993", auth = ["password"] }]
outgoing = [{ url = "smtps://smtp.$DOMAIN:465", auth = ["password"] }]
EOF

RUST_LOG=warn "$BIN" serve --offline --config "$WORK/mail.toml" --listen "127.0.0.1:$PORT" \
  >"$WORK/serve.out" 2>"$WORK/serve.log" &
SERVER_PID=$!
for _ in $(seq 1 200); do
  curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" && break
  sleep 0.05
done
curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz" || {
  echo "bench/soak.sh: serve did not start:" >&2
  cat "$WORK/serve.log" >&2
  exit 1
}

echo "soak: serve (pid $SERVER_PID) on 127.0.0.1:$PORT for $MINUTES min, $(basename "$BIN")"

status=0
python3 - "$PORT" "$SECS" "$SERVER_PID" "$DOMAIN" <<'PY' || status=$?
import http.client, json, os, random, socket, sys, threading, time

port, secs, pid, domain = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
deadline = time.time() + secs
lock = threading.Lock()
stats = {}           # kind -> {status: count}
fivexx = []          # (kind, status, path)
errors = {}          # kind -> count of connection errors

def count(kind, status, path=""):
    with lock:
        stats.setdefault(kind, {}).setdefault(status, 0)
        stats[kind][status] += 1
        if isinstance(status, int) and status >= 500:
            fivexx.append((kind, status, path))

POX = ('<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/'
       'exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>{}</EMailAddress>'
       '<AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/'
       'responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>')
EMAIL = "jane@" + domain

def good():
    r = random.random()
    if r < 0.2:
        return "autoconfig", "GET", "/mail/config-v1.1.xml?emailaddress=" + EMAIL, None
    if r < 0.3:
        return "autoconfig", "GET", "/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=" + EMAIL, None
    if r < 0.5:
        return "autodiscover", "POST", "/autodiscover/autodiscover.xml", POX.format(EMAIL)
    if r < 0.55:
        return "autodiscover", "GET", "/autodiscover/autodiscover.json/v1.0/" + EMAIL + "?Protocol=AutodiscoverV1", None
    if r < 0.65:
        return "profile", "GET", "/apple/mobileconfig?emailaddress=" + EMAIL, None
    if r < 0.7:
        return "profile", "GET", "/apple/steps?emailaddress=" + EMAIL, None
    if r < 0.8:
        return "page", "GET", random.choice(["/", "/static/style.css", "/static/app.js",
                                             "/qr.svg?emailaddress=" + EMAIL]), None
    if r < 0.95:
        who = random.choice([EMAIL, "x%d@unknown-%d.example" % (random.randrange(10**6), random.randrange(50))])
        return "lookup", "GET", "/api/v1/lookup?email=" + who, None
    return "ops", "GET", random.choice(["/healthz", "/metrics"]), None

def bad():
    r = random.randrange(9)
    if r == 0:
        return "bad", "GET", "/mail/config-v1.1.xml", None
    if r == 1:
        return "bad", "GET", "/mail/config-v1.1.xml?emailaddress=%00%ff<script>@@", None
    if r == 2:
        return "bad", "POST", "/autodiscover/autodiscover.xml", "<Autodiscover><Request><EMailAddress>"
    if r == 3:
        return "bad", "POST", "/autodiscover/autodiscover.xml", ("<!DOCTYPE a [<!ENTITY a \"" + "x" * 100 +
                "\">]><Autodiscover>&a;&a;&a;</Autodiscover>")
    if r == 4:
        return "bad", "POST", "/autodiscover/autodiscover.xml", "<a>" * 20000
    if r == 5:
        return "bad", "POST", "/autodiscover/autodiscover.xml", "x" * (3 * 1024 * 1024)
    if r == 6:
        return "bad", "GET", "/api/v1/lookup?email=" + "a" * 5000, None
    if r == 7:
        return "bad", "GET", "/apple/mobileconfig?emailaddress=nobody@" + "x" * 300 + ".example", None
    return "bad", "GET", "/no/such/path/" + str(random.randrange(10**9)), None

def client(worker):
    conn = None
    while time.time() < deadline:
        kind, method, path, body = bad() if random.random() < 0.15 else good()
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
            headers = {"Host": "127.0.0.1:%d" % port}
            if body is not None:
                headers["Content-Type"] = "text/xml; charset=utf-8"
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
            count(kind, resp.status, path[:80])
            if resp.getheader("Connection", "").lower() == "close" or random.random() < 0.1:
                conn.close()
                conn = None
        except Exception as e:
            with lock:
                errors[kind] = errors.get(kind, 0) + 1
            if conn is not None:
                conn.close()
            conn = None
            time.sleep(0.05)

def raw(data, trickle=0.0, read=True, timeout=20):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        if trickle:
            for b in data:
                s.sendall(bytes([b]))
                time.sleep(trickle)
                if time.time() > deadline:
                    return None
        else:
            s.sendall(data)
        if not read:
            return None
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
        return out
    finally:
        s.close()

def slow(worker):
    req = ("GET /mail/config-v1.1.xml?emailaddress=%s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
           "Connection: close\r\n\r\n" % EMAIL).encode()
    while time.time() < deadline:
        r = random.randrange(4)
        kind = "slow"
        try:
            if r == 0:
                # A byte every 0.2 s: the server may answer or time it out.
                out = raw(req, trickle=0.2)
            elif r == 1:
                # Half a request, then nothing until the server gives up.
                out = raw(req[:30], read=True)
            elif r == 2:
                # Connect and leave at once.
                out = raw(b"", read=False)
            else:
                out = raw(b"\x16\x03\x01\x02\x00garbage\r\n\r\n" + os.urandom(200))
            if out:
                line = out.split(b"\r\n", 1)[0].split(b" ")
                status = int(line[1]) if len(line) > 1 and line[1].isdigit() else "unparsed"
                count(kind, status, "raw")
            else:
                count(kind, "closed")
        except Exception:
            count(kind, "error")
        time.sleep(random.random())

def rss_kb():
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0

def fds():
    return len(os.listdir("/proc/%d/fd" % pid))

threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(8)]
threads += [threading.Thread(target=slow, args=(i,), daemon=True) for i in range(4)]
for t in threads:
    t.start()

start = time.time()
warmup = max(60, secs // 5)
samples = []
alive = True
while time.time() < deadline:
    time.sleep(min(10, max(0, deadline - time.time())))
    try:
        s = (round(time.time() - start), rss_kb(), fds())
    except FileNotFoundError:
        alive = False
        break
    samples.append(s)
    with lock:
        total = sum(sum(v.values()) for v in stats.values())
    print("soak: t=%4ds rss=%6d kB fds=%3d requests=%d" % (s[0], s[1], s[2], total), flush=True)

for t in threads:
    t.join(timeout=30)

failures = []
if not alive:
    failures.append("the server died")
after = [s for s in samples if s[0] > warmup]
if len(after) >= 4:
    # Baseline: the first samples after warm-up; end: the last ones. The
    # end's lowest must not exceed the baseline's highest by more than a
    # margin (allocator noise), for memory and for descriptors.
    base, end = after[: max(2, len(after) // 4)], after[-max(2, len(after) // 4):]
    rss_base, rss_end = max(s[1] for s in base), min(s[1] for s in end)
    fd_base, fd_end = max(s[2] for s in base), min(s[2] for s in end)
    if rss_end > rss_base * 1.10 + 2048:
        failures.append("RSS grew after warm-up: %d kB -> %d kB" % (rss_base, rss_end))
    if fd_end > fd_base + 8:
        failures.append("open descriptors grew after warm-up: %d -> %d" % (fd_base, fd_end))
    print("soak: after warm-up RSS %d -> %d kB, fds %d -> %d" % (rss_base, rss_end, fd_base, fd_end))
else:
    print("soak: too short to judge growth (needs 4 samples after %d s of warm-up)" % warmup)
if fivexx:
    failures.append("%d requests got a 5xx, e.g. %s" % (len(fivexx), fivexx[:5]))

print("soak: responses by kind:", json.dumps({k: {str(s): n for s, n in v.items()} for k, v in stats.items()}, sort_keys=True))
print("soak: client-side connection errors:", json.dumps(errors, sort_keys=True))
if failures:
    for f in failures:
        print("soak: FAIL:", f)
    sys.exit(1)
print("soak: OK: flat memory and descriptors, no 5xx")
PY
if ! kill -0 "$SERVER_PID" 2>/dev/null; then
  echo "soak: FAIL: the server is gone; its log:" >&2
  tail -20 "$WORK/serve.log" >&2
  exit 1
fi
exit $status
