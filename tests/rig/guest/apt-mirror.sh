#!/usr/bin/env bash
# Print the Debian mirror URL this machine's apt already uses for its own
# release, e.g. for debootstrap or a backports source. Read from the apt
# sources (deb822 *.sources with `URIs:`, or classic `deb URL suite ...`
# lines), so no mirror host name is written in the repo.
#
#   apt-mirror.sh [suite]     suite defaults to this machine's codename
#
# Exits 1 with a message when no http(s) mirror serves that suite.
set -euo pipefail

say() { printf 'apt-mirror: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# shellcheck disable=SC1091 # the machine's own file
suite=${1:-$(. /etc/os-release && echo "${VERSION_CODENAME:-}")}
[ -n "$suite" ] || die "no VERSION_CODENAME in /etc/os-release; pass the suite"

# deb822 first (Debian 12+ default), then classic lines. Only the main
# archive counts: a stanza must list "$suite" itself among its Suites
# (not -security or -updates alone), and be enabled.
deb822() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v suite="$suite" '
      function flush() {
        if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " suite " ") && tolower(enabled) != "no" && uri != "")
          { print uri; found = 1; exit }
        types = suites = uri = enabled = ""
      }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      {
        key = tolower($1); $1 = ""; sub(/^[ \t]+/, ""); val = $0
        if (key == "types:") types = val
        else if (key == "suites:") suites = val
        else if (key == "enabled:") enabled = val
        else if (key == "uris:") { split(val, u, /[ \t]+/); uri = u[1] }
      }
      END { if (!found) flush() }' "$f"
  done
}
classic() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    # deb [opts] URL suite comp...; the [opts] block may hold spaces.
    sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" |
      awk -v suite="$suite" '$1 == "deb" && $3 == suite { print $2; exit }'
  done
}

for url in $(deb822) $(classic); do
  case $url in
    http://* | https://*) echo "${url%/}"; exit 0 ;;
  esac
done
die "no http(s) 'deb' source for suite '$suite' in /etc/apt/sources.list{,.d/}"
