#!/usr/bin/env bash
# Start Microsoft's 365 Agents Playground (the local Teams test client) as one of its built-in users,
# pointed at a running bot. It has no way to change user in its page, so each person you want to
# play gets a Playground of their own on its own port.
#
#   tools/playground.sh PERSON PORT [BOT_ENDPOINT]
#
# PERSON is one of alex, megan, adele, isaiah, patti, lynne (examples/partnerships.yaml links them
# to Dana Marsh, Hana Moss, Cal Birch, Gus Penn, Ivo Fell and Bea Lane). BOT_ENDPOINT defaults to
# http://127.0.0.1:3978/api/messages. The Playground's config and log go to
# $PLAYGROUND_DIR/PERSON/ (default var/playground/PERSON/). The script ends by exec'ing node, so
# its PID is the Playground's. Needs node and `npm ci` at the repository root.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cli="$root/node_modules/@microsoft/m365agentsplayground/cli.js"

if [ "$#" -lt 2 ]; then
  sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
person="$1"
port="$2"
endpoint="${3:-http://127.0.0.1:3978/api/messages}"

case "$person" in
  alex) index=0 ;;
  megan) index=1 ;;
  adele) index=2 ;;
  isaiah) index=3 ;;
  patti) index=4 ;;
  lynne) index=5 ;;
  *)
    echo "playground: unknown person '$person' (alex, megan, adele, isaiah, patti or lynne)" >&2
    exit 2
    ;;
esac
if ! command -v node >/dev/null 2>&1; then
  echo "playground: node is not installed (Debian: apt-get install nodejs npm)" >&2
  exit 1
fi
if [ ! -f "$cli" ]; then
  echo "playground: $cli is missing; run 'npm ci' in $root" >&2
  exit 1
fi

# The Playground's built-in users (same ids and AAD object ids as its default configuration).
names=("Alex Wilber" "Megan Bowen" "Adele Vance" "Isaiah Langer" "Patti Fernandez" "Lynne Robbins")
logins=(alexw meganb adelev isaiahl pattif lynner)

user_yaml() { # INDENT I
  local given="${names[$2]% *}" surname="${names[$2]#* }"
  printf '%sid: user-id-%d\n' "$1" "$2"
  printf '%sname: %s\n' "$1" "${names[$2]}"
  printf '%suserPrincipleName: %s@example.com\n' "$1" "${logins[$2]}"
  printf '%saadObjectId: 00000000-0000-0000-0000-00000000000%d\n' "$1" "$((20 + $2))"
  printf '%sgivenName: %s\n' "$1" "$given"
  printf '%ssurname: %s\n' "$1" "$surname"
  printf '%semail: %s@example.com\n' "$1" "${logins[$2]}"
}

dir="${PLAYGROUND_DIR:-$root/var/playground}/$person"
mkdir -p "$dir"
config="$dir/.m365agentsplayground.yml"
{
  echo "# Written by tools/playground.sh: the Playground's default users, as ${names[$index]}."
  echo 'version: "0.1.1"'
  echo "tenantId: 00000000-0000-0000-0000-0000000000001"
  echo "bot:"
  echo "  id: 00000000-0000-0000-0000-00000000000011"
  echo "  name: Escalation bot"
  echo "currentUser:"
  user_yaml "  " "$index"
  echo "users:"
  for i in 0 1 2 3 4 5; do
    if [ "$i" -ne "$index" ]; then
      user_yaml "    " "$i" | sed '1s/^    /  - /'
    fi
  done
  echo "personalChat:"
  echo "  id: personal-chat-$person"
  echo "groupChat:"
  echo "  id: group-chat-$person"
  echo "  name: Group Chat"
  echo "team:"
  echo "  id: team-id"
  echo "  name: My Team"
  echo "  aadGroupId: 00000000-0000-0000-0000-000000000031"
  echo "  channels:"
  echo "    - id: channel-announcements-id"
  echo "      name: Announcements"
} >"$config"

cd "$dir"
export TEAMSAPPTESTER_BROWSER=none
export M365_AGENTS_PLAYGROUND_CONFIG_PATH="$config"
export M365_AGENTS_PLAYGROUND_LOGFILE="$dir/playground.log"
exec node "$cli" -p "$port" -e "$endpoint" -c msteams --disable-telemetry
