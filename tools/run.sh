#!/usr/bin/env bash
# `make run`: the bot (`escalation-bot serve` on its embedded defaults: the example config, SQLite
# in var/, 127.0.0.1:3978), a local mail server that writes every email the bot sends to var/mail/
# as .eml, and, when node is installed, Microsoft 365 Agents Playground (Microsoft's local Teams
# test client) beside it, one page per person. Ctrl-C stops everything.
#
#   tools/run.sh [VENV_BIN]        (default .venv/bin)
#
# PLAYGROUND_PEOPLE (default "alex megan adele isaiah patti": everyone the README's example case
# reaches up to stage 2, and the business manager) chooses the Playgrounds, PLAYGROUND_PORT
# (default 56150) the first port; the others follow it; PLAYGROUND_PEOPLE=none runs no Playground.
# MAIL_CAPTURE_PORT (default 1025) and MAIL_CAPTURE_DIR (default var/mail) are the local mail
# server's; with ESCALATION_BOT_SMTP_URL or _HOST set, the bot uses that server instead and no
# capture is started.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${1:-$root/.venv/bin}"
cd "$root"

host="${ESCALATION_BOT_HOST:-127.0.0.1}"
port="${ESCALATION_BOT_PORT:-3978}"
case "$host" in
  0.0.0.0 | :: | "") local_host=127.0.0.1 ;;
  *:*) local_host="[$host]" ;;
  *) local_host="$host" ;;
esac
bot_url="http://$local_host:$port"
people=(${PLAYGROUND_PEOPLE:-alex megan adele isaiah patti})
first_port="${PLAYGROUND_PORT:-56150}"
state="$root/var/playground"
mail_port="${MAIL_CAPTURE_PORT:-1025}"
mail_dir="${MAIL_CAPTURE_DIR:-$root/var/mail}"

pids=()
cleanup() {
  trap - INT TERM EXIT
  local pid
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

playground=1
no_playground() {
  echo "run: $1" >&2
  echo "run: starting the bot without it on $bot_url." >&2
  echo "run: to try it in Microsoft's Teams test client (Microsoft 365 Agents Playground), install" >&2
  echo "run: Node.js 20+ and npm (Debian: apt-get install nodejs npm) and run 'make run' again;" >&2
  echo "run: it installs the Playground with 'npm ci'. See README, 'Microsoft Teams'." >&2
  playground=""
}

# ---- node side: the Playground (pinned in package-lock.json) --------------------------------
if [ "${PLAYGROUND_PEOPLE:-}" = none ]; then
  playground=""
elif ! command -v node >/dev/null 2>&1; then
  no_playground "node is not installed, so there is no Playground."
elif [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  if ! command -v npm >/dev/null 2>&1; then
    no_playground "npm is not installed, so the Playground cannot be installed."
  else
    echo "run: installing the Playground and the other node tools (npm ci)..." >&2
    if ! npm ci --no-audit --no-fund --loglevel=error >&2; then
      no_playground "'npm ci' failed, so there is no Playground."
    fi
  fi
fi

# ---- the mail: a local capture unless a real server is set --------------------------------------
mail_line=""
if [ -z "${ESCALATION_BOT_SMTP_URL:-}" ] && [ -z "${ESCALATION_BOT_SMTP_HOST:-}" ]; then
  "$bin/escalation-bot" mail-capture --dir "$mail_dir" --port "$mail_port" &
  mail_pid=$!
  pids+=("$mail_pid")
  listening=""
  for _ in $(seq 1 50); do
    if ! kill -0 "$mail_pid" 2>/dev/null; then
      wait "$mail_pid" && status=0 || status=$?
      echo "run: the mail capture stopped (exit $status); see the message above." >&2
      exit 1
    fi
    # ours, not something else already on the port: its greeting names it
    if "$bin/python" -c "import socket, sys
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), 1)
s.settimeout(2)
sys.exit(b'mail-capture' not in s.recv(512))" "$mail_port" 2>/dev/null; then
      listening=1
      break
    fi
    sleep 0.2
  done
  if [ -z "$listening" ]; then
    echo "run: the mail capture did not start listening on 127.0.0.1:$mail_port within 10 s." >&2
    exit 1
  fi
  export ESCALATION_BOT_SMTP_URL="smtp://127.0.0.1:$mail_port"
  export ESCALATION_BOT_SMTP_FROM="${ESCALATION_BOT_SMTP_FROM:-Escalation bot (make run) <escalation-bot@localhost>}"
  mail_line="Every email the bot sends (mailboxes, people without Teams) is written to $mail_dir/ as .eml."
else
  mail_line="Email goes to the mail server set in ESCALATION_BOT_SMTP_URL / ESCALATION_BOT_SMTP_HOST."
fi

# ---- the bot ------------------------------------------------------------------------------
"$bin/escalation-bot" serve &
bot_pid=$!
pids+=("$bot_pid")
ready=""
for _ in $(seq 1 150); do
  if ! kill -0 "$bot_pid" 2>/dev/null; then
    wait "$bot_pid" && status=0 || status=$?
    echo "run: the bot stopped (exit $status); see the message above." >&2
    exit "$status"
  fi
  if "$bin/python" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)" \
    "$bot_url/readyz" 2>/dev/null; then
    ready=1
    break
  fi
  sleep 0.2
done
if [ -z "$ready" ]; then
  echo "run: the bot did not become ready at $bot_url/readyz within 30 s." >&2
  exit 1
fi

if [ -z "$playground" ]; then
  echo
  echo "escalation-bot is running at $bot_url. Ctrl-C stops it."
  echo "$mail_line"
  echo
  wait "$bot_pid" && status=0 || status=$?
  exit "$status"
fi

# ---- one Playground per person ---------------------------------------------------------------
declare -A plays=(
  [alex]="Alex Wilber      = Dana Marsh, practitioner, Northbay Council: type 'escalate'"
  [megan]="Megan Bowen      = Hana Moss, practitioner, Northbay Community Health (the counterpart)"
  [adele]="Adele Vance      = Cal Birch, Dana's line manager (stage 2)"
  [isaiah]="Isaiah Langer    = Gus Penn, Hana's line manager (stage 2)"
  [patti]="Patti Fernandez  = Ivo Fell, the partnership's business manager"
  [lynne]="Lynne Robbins    = Bea Lane, Dana's senior manager (stage 3)"
)
mkdir -p "$state"
offset=0
started=()
for person in "${people[@]}"; do
  out="$state/$person.out"
  bash tools/playground.sh "$person" "$((first_port + offset))" "$bot_url/api/messages" >"$out" 2>&1 &
  pids+=("$!")
  started+=("$person:$!:$out")
  offset=$((offset + 1))
done

lines=()
for entry in "${started[@]}"; do
  IFS=: read -r person pid out <<<"$entry"
  address=""
  for _ in $(seq 1 150); do
    address="$(sed -n 's/^Listening on \([0-9][0-9]*\).*/\1/p' "$out" | head -n 1)"
    if [ -n "$address" ] || ! kill -0 "$pid" 2>/dev/null; then
      break
    fi
    sleep 0.2
  done
  if [ -n "$address" ]; then
    lines+=("  http://127.0.0.1:$address   ${plays[$person]:-$person}")
  else
    echo "run: the Playground for $person did not start; see $out" >&2
  fi
done

echo
echo "escalation-bot is running at $bot_url. Ctrl-C stops it and the Playgrounds."
echo "$mail_line"
if [ "${#lines[@]}" -gt 0 ]; then
  echo "Microsoft 365 Agents Playground (Microsoft's local Teams test client), one page per person:"
  printf '%s\n' "${lines[@]}"
  echo "Open each person's page once before raising a case: that installs the bot for them, so"
  echo "its messages reach them. Outside working hours (09:00-17:00, Mon-Fri) the bot holds messages"
  echo "to other people until the next working morning, as it would in real use."
fi
# whoever the example case reaches in Teams without a page here: how to open it, or that it
# cannot be (the Playground has six users), so a message that goes nowhere is not a mystery
PLAYGROUND_BOT_ENDPOINT="$bot_url/api/messages" \
  "$bin/python" tools/playground-reach.py "$((first_port + offset))" "${people[@]}" || true
echo

wait "$bot_pid" && status=0 || status=$?
exit "$status"
