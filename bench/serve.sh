#!/usr/bin/env bash
# Serve benchmark: mailsetup serve against automx2 (the Python/Flask
# service operators run today), and a bare axum server as the floor of
# what this machine allows, side by side on loopback.
#
# automx2 comes from PyPI in a virtualenv this script makes, runs once with
# `flask run` and once with gunicorn (2 workers), and is seeded through its
# /initdb/ endpoint with the same domain and servers mailsetup serves. Each
# server is driven by wrk (16 connections, 15 s by default) with GET
# autoconfig and POST Autodiscover; the script prints requests/s, p50/p99
# latency and RSS per server, and the ratios the targets are stated in:
# >= 0.6x the bare axum server's requests/s and p99 <= 1.5x its p99 (the
# same run, the same machine), >= 50x automx2-on-gunicorn's throughput,
# RSS < 20 MB. It prints; it does not fail on targets.
#
#   ./bench/serve.sh                 15 s per run
#   BENCH_SECS=5 ./bench/serve.sh    shorter
#   BENCH_AUTOMX2=0 ./bench/serve.sh mailsetup and bare axum only (no PyPI)
set -euo pipefail
cd "$(dirname "$0")/.."

SECS="${BENCH_SECS:-15}"
CONNS=16
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

AUTOMX2="${BENCH_AUTOMX2:-1}"
for tool in wrk python3 curl pgrep; do
  command -v "$tool" >/dev/null || { echo "bench/serve.sh: $tool is missing (scripts/install-deps.sh)" >&2; exit 1; }
done

# Both linked the same way (scripts/build-release.sh), so the ratio is the
# servers' own work.
./scripts/build-release.sh --quiet
./scripts/build-release.sh --quiet --example serve_bare
BIN=target/release/mailsetup
BARE=target/release/examples/serve_bare

# One domain, the same servers for both services.
DOMAIN=bench.example
EMAIL="jane@$DOMAIN"
# The defaults throughout: static answers are never rate-limited.
cat >"$WORK/mail.toml" <<EOF
[[domain]]
name = "$DOMAIN"
display_name = "Bench Mail"
incoming = [{ url = "imaps://imap.$DOMAIN:993", auth = ["password"] }]
outgoing = [{ url = "smtps://smtp.$DOMAIN:465", auth = ["password"] }]
EOF
cat >"$WORK/seed.json" <<EOF
{"version": 2, "provider": "Bench Mail", "domains": [{"name": "$DOMAIN"}],
 "servers": [{"name": "imap.$DOMAIN", "type": "imap", "port": 993},
             {"name": "smtp.$DOMAIN", "type": "smtp", "port": 465}]}
EOF
AD_BODY='<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
<Request><EMailAddress>'"$EMAIL"'</EMailAddress>
<AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>
</Request></Autodiscover>'
printf '%s' "$AD_BODY" >"$WORK/ad-request.xml"
cat >"$WORK/autodiscover.lua" <<EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "text/xml; charset=utf-8"
wrk.body = [[$AD_BODY]]
EOF

wait_http() { # URL
  for _ in $(seq 1 200); do
    curl -s -o /dev/null "$1" && return 0
    sleep 0.05
  done
  echo "bench/serve.sh: nothing answers at $1" >&2
  return 1
}

for port in 18080 18082 18083 18084; do
  if curl -s -o /dev/null "http://127.0.0.1:$port/"; then
    echo "bench/serve.sh: port $port is in use; stop what listens there first" >&2
    exit 1
  fi
done

rss_kb() { # PID: resident memory of the process and its children, in kB
  local total=0 p
  for p in "$1" $(pgrep -P "$1" || true); do
    total=$((total + $(awk '/VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)))
  done
  echo "$total"
}

# Runs wrk and prints "req/s p50_ms p99_ms non2xx errors".
drive() { # URL [lua]
  local out
  if [ -n "${2:-}" ]; then
    out=$(wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -s "$2" "$1")
  else
    out=$(wrk -t2 -c"$CONNS" -d"${SECS}s" --latency "$1")
  fi
  echo "$out" | awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /Requests\/sec/ { rps = $2 }
    $1 == "50%" { p50 = ms($2) }
    $1 == "99%" { p99 = ms($2) }
    /Non-2xx/ { bad = $NF }
    /Socket errors/ { err = $0 }
    END { printf "%.0f %.2f %.2f %d %s\n", rps, p50, p99, bad + 0, (err == "" ? "none" : "yes") }'
}

declare -A RESULT
bench() { # NAME PID BASE
  local name=$1 pid=$2 base=$3
  local ac ad
  ac=$(drive "$base/mail/config-v1.1.xml?emailaddress=$EMAIL")
  ad=$(drive "$base/autodiscover/autodiscover.xml" "$WORK/autodiscover.lua")
  RESULT["$name"]="$ac|$ad|$(rss_kb "$pid")"
}

# mailsetup (kept running until the bare server has its answers)
RUST_LOG=warn "$BIN" serve --offline --config "$WORK/mail.toml" --listen 127.0.0.1:18080 2>"$WORK/mailsetup.log" &
PIDS+=($!); MS_PID=$!
wait_http "http://127.0.0.1:18080/healthz"
bench mailsetup "$MS_PID" "http://127.0.0.1:18080"

# bare axum, answering with the very bytes mailsetup answered with (the
# same response sizes, so the ratio is the cost of mailsetup's own work).
curl -sf "http://127.0.0.1:18080/mail/config-v1.1.xml?emailaddress=$EMAIL" -o "$WORK/ac.xml"
curl -sf -X POST -H 'Content-Type: text/xml; charset=utf-8' --data-binary @"$WORK/ad-request.xml" \
  "http://127.0.0.1:18080/autodiscover/autodiscover.xml" -o "$WORK/ad.xml"
"$BARE" 127.0.0.1:18082 "$WORK/ac.xml" "$WORK/ad.xml" 2>/dev/null &
PIDS+=($!); BARE_PID=$!
wait_http "http://127.0.0.1:18082/"
bench bare "$BARE_PID" "http://127.0.0.1:18082"
kill "$BARE_PID"

if [ "$AUTOMX2" != 0 ]; then
# automx2 in its own virtualenv, with an SQLite file both runs share.
VENV="${AUTOMX2_VENV:-target/bench-automx2-venv}"
if [ ! -x "$VENV/bin/gunicorn" ] || ! "$VENV/bin/python" -c 'import automx2' 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check automx2 gunicorn
fi
cat >"$WORK/automx2.conf" <<EOF
[automx2]
loglevel = WARNING
db_echo = no
db_uri = sqlite:///$WORK/automx2.db
proxy_count = 0
EOF
export AUTOMX2_CONF="$WORK/automx2.conf" FLASK_APP=automx2.server:app

# automx2 under flask run, seeded through /initdb/.
"$VENV/bin/flask" run --host 127.0.0.1 --port 18083 >"$WORK/flask.log" 2>&1 &
PIDS+=($!); FLASK_PID=$!
wait_http "http://127.0.0.1:18083/"
curl -s -o /dev/null -X POST -H 'Content-Type: application/json' --data @"$WORK/seed.json" http://127.0.0.1:18083/initdb/
curl -sf "http://127.0.0.1:18083/mail/config-v1.1.xml?emailaddress=$EMAIL" | grep -q "imap.$DOMAIN" \
  || { echo "bench/serve.sh: automx2 was not seeded" >&2; exit 1; }
bench automx2-flask "$FLASK_PID" "http://127.0.0.1:18083"
kill "$FLASK_PID"

# automx2 under gunicorn with 2 workers, on the same database.
"$VENV/bin/gunicorn" -w 2 -b 127.0.0.1:18084 automx2.server:app >"$WORK/gunicorn.log" 2>&1 &
PIDS+=($!); GUNI_PID=$!
wait_http "http://127.0.0.1:18084/"
bench automx2-gunicorn "$GUNI_PID" "http://127.0.0.1:18084"
kill "$GUNI_PID"
fi

echo
echo "serve benchmark: wrk, $CONNS connections, ${SECS}s per run, on loopback"
printf '%-18s %-10s %10s %9s %9s %8s   %-10s %10s %9s %9s %8s   %8s\n' \
  server endpoint req/s p50_ms p99_ms non2xx endpoint req/s p50_ms p99_ms non2xx RSS_MB
NAMES=(mailsetup bare)
[ "$AUTOMX2" != 0 ] && NAMES+=(automx2-flask automx2-gunicorn)
for name in "${NAMES[@]}"; do
  IFS='|' read -r ac ad rss <<<"${RESULT[$name]}"
  read -r a1 a2 a3 a4 _ <<<"$ac"
  read -r d1 d2 d3 d4 _ <<<"$ad"
  printf '%-18s %-10s %10s %9s %9s %8s   %-10s %10s %9s %9s %8s   %8.1f\n' \
    "$name" autoconfig "$a1" "$a2" "$a3" "$a4" autodisc "$d1" "$d2" "$d3" "$d4" "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')"
done

IFS='|' read -r ms_ac ms_ad ms_rss <<<"${RESULT[mailsetup]}"
IFS='|' read -r bare_ac bare_ad _ <<<"${RESULT[bare]}"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
field() { echo "$1" | awk -v n="$2" '{print $n}'; }
echo
echo "throughput vs the bare axum server (target >= 0.6x): autoconfig $(ratio "$(field "$ms_ac" 1)" "$(field "$bare_ac" 1)")x, autodiscover $(ratio "$(field "$ms_ad" 1)" "$(field "$bare_ad" 1)")x"
echo "p99 vs the bare axum server (target <= 1.5x):       autoconfig $(ratio "$(field "$ms_ac" 3)" "$(field "$bare_ac" 3)")x, autodiscover $(ratio "$(field "$ms_ad" 3)" "$(field "$bare_ad" 3)")x"
echo "mailsetup RSS after load (target < 20 MB):          $(awk -v k="$ms_rss" 'BEGIN { printf "%.1f", k / 1024 }') MB"
if [ "$AUTOMX2" != 0 ]; then
  IFS='|' read -r gu_ac gu_ad _ <<<"${RESULT[automx2-gunicorn]}"
  IFS='|' read -r fl_ac fl_ad _ <<<"${RESULT[automx2-flask]}"
  echo "throughput vs automx2 on gunicorn (target >= 50x):  autoconfig $(ratio "$(field "$ms_ac" 1)" "$(field "$gu_ac" 1)")x, autodiscover $(ratio "$(field "$ms_ad" 1)" "$(field "$gu_ad" 1)")x"
  echo "throughput vs automx2 on flask run:                 autoconfig $(ratio "$(field "$ms_ac" 1)" "$(field "$fl_ac" 1)")x, autodiscover $(ratio "$(field "$ms_ad" 1)" "$(field "$fl_ad" 1)")x"
fi
