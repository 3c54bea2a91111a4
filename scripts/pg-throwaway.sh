#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for tests and trying the PostgreSQL index on one machine:
# made in a new temp folder, listening on a free loopback port, run by an unprivileged user
# (`postgres`, which Debian's package creates, when this runs as root). When it is ready it prints
# one line, its URL (postgres://bwv@127.0.0.1:PORT/bwv), and it runs until its standard input
# closes or it is interrupted; then it stops the server and removes the folder. SIGUSR1 restarts
# the server (see below). With PG_TLS=1 the server takes TLS connections only, with a certificate
# for 127.0.0.1 from a CA made for it, and the URL asks for TLS and names that CA
# (`?sslmode=require&sslrootcert=DIR/ca.pem`).
#   scripts/pg-throwaway.sh            # Ctrl-D or Ctrl-C stops it
# Needs Debian's postgresql-15 (scripts/setup.sh installs it).
set -euo pipefail
BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
[ -x "$BIN/initdb" ] || { echo "pg-throwaway: no $BIN/initdb (apt-get install postgresql-15)" >&2; exit 1; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/bwv-pg.XXXXXX")
as_owner() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" -ne 0 ] || chown postgres "$dir"
cleanup() {
  as_owner "$BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 0' INT TERM HUP

as_owner "$BIN/initdb" -D "$dir/data" -U bwv --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log" >&2; exit 1; }
query=
if [ "${PG_TLS:-}" = 1 ]; then
  # A CA of its own, and a server certificate for 127.0.0.1 that it signs.
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=bwv-test-ca \
    -keyout "$dir/ca.key" -out "$dir/ca.pem" >/dev/null 2>&1
  openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 \
    -keyout "$dir/data/server.key" -out "$dir/server.csr" >/dev/null 2>&1
  printf 'subjectAltName=IP:127.0.0.1\n' >"$dir/san.ext"
  openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial \
    -days 2 -extfile "$dir/san.ext" -out "$dir/data/server.crt" >/dev/null 2>&1
  [ "$(id -u)" -ne 0 ] || chown postgres "$dir/data/server.key" "$dir/data/server.crt"
  chmod 600 "$dir/data/server.key"
  printf "ssl = on\n" >>"$dir/data/postgresql.conf"
  # TCP connections without TLS are refused.
  printf "hostnossl all all 0.0.0.0/0 reject\nhostssl all all 127.0.0.1/32 trust\n" >"$dir/hba"
  cat "$dir/data/pg_hba.conf" >>"$dir/hba"
  cp "$dir/hba" "$dir/data/pg_hba.conf"
  query="?sslmode=require&sslrootcert=$dir/ca.pem"
fi
# A free port is picked, then bound by the server: another process may take it in between, so
# a start that fails is tried again on another port.
for _ in 1 2 3 4 5; do
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  if as_owner "$BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=200" start >/dev/null; then
    started=1; break
  fi
done
[ -n "${started:-}" ] || { cat "$dir/server.log" >&2; exit 1; }
as_owner "$BIN/createdb" -h "$dir" -p "$port" -U bwv bwv
echo "postgres://bwv@127.0.0.1:$port/bwv$query"
# SIGUSR1 restarts the server (every connection dropped, as in a real restart) and prints
# "restarted" once it accepts connections again: for tests of what survives a restart.
restart() {
  as_owner "$BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -m fast -w -t 60 restart >/dev/null
  echo restarted
}
trap restart USR1
cat <&0 >/dev/null &
reader=$!
# `wait` returns early when a signal is handled; it is waited for again until the input closes.
while kill -0 "$reader" 2>/dev/null; do wait "$reader" || true; done
