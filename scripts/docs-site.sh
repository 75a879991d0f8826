#!/usr/bin/env bash
# The collection's documentation site, built offline the way antsibull-docs
# builds collection docsites, from what ships: the tarball installed into a
# scratch collections path.
#   1. antsibull-docs lint-collection-docs --plugin-docs on the installed
#      collection: every module's docs parse, render and link.
#   2. antsibull-docs sphinx-init + collection, then sphinx-build with
#      warnings as errors (-W, as sphinx-init's own build.sh does) into
#      <repo>/.build/docs-site/build/html.
# Offline: Sphinx would fetch the inventories of docs.ansible.com and
# docs.python.org (intersphinx) for the few links antsibull-docs' pages make
# into ansible-core's docs (action plugins, common return values, the
# configuration settings). Instead conf.py gets one local inventory naming
# exactly those pages, so the links are right and any other unresolved
# reference still fails the build.
# Env: KVMNET_VENV (default <repo>/.build/venv, with antsibull-docs from
#      scripts/setup-release-tools.sh), KVMNET_SKIP_BUILD=1 to use the
#      tarball already in dist/, KVMNET_TARBALL to document another tarball,
#      KVMNET_DOCS_SITE (default <repo>/.build/docs-site).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
venv=${KVMNET_VENV:-$repo/.build/venv}
site=${KVMNET_DOCS_SITE:-$repo/.build/docs-site}

say() { printf 'docs-site: %s\n' "$*" >&2; }
fail() { say "$*"; exit 1; }
{ [ -x "$venv/bin/antsibull-docs" ] && [ -x "$venv/bin/sphinx-build" ]; } ||
  fail "no antsibull-docs or sphinx-build in $venv; run scripts/setup-release-tools.sh"

if [ -n "${KVMNET_TARBALL:-}" ]; then
  tarball=$KVMNET_TARBALL
else
  [ "${KVMNET_SKIP_BUILD:-0}" = 1 ] || scripts/build-collection.sh
  version=$(sed -n 's/^version: *//p' collection/galaxy.yml)
  tarball=dist/kvmnet-network-$version.tar.gz
fi
[ -f "$tarball" ] || fail "$tarball not found (build it with scripts/build-collection.sh)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export PATH=$venv/bin:$PATH
export ANSIBLE_HOME=$tmp/ansible-home ANSIBLE_NOCOLOR=1
# Only this copy of the collection: another kvmnet.network elsewhere must
# not be documented instead.
export ANSIBLE_COLLECTIONS_PATH=$tmp/collections
ansible-galaxy collection install --offline "$tarball" -p "$tmp/collections" >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log" >&2; fail "ansible-galaxy collection install $tarball"; }
installed=$tmp/collections/ansible_collections/kvmnet/network

# --- 1. Lint. References may only point into this collection or
# ansible.builtin (its one dependency); rstcheck runs on the rendered pages.
antsibull-docs lint-collection-docs --plugin-docs --validate-collection-refs all \
  --disallow-unknown-collection-refs "$installed" >"$tmp/lint.log" 2>&1 ||
  { cat "$tmp/lint.log" >&2; fail "antsibull-docs lint-collection-docs found problems (above)"; }
say "lint-collection-docs --plugin-docs: no problems"

# --- 2. The site. antsibull-docs wants its directories owned by us and not
# group- or world-writable.
rm -rf "$site"
mkdir -p "$(dirname "$site")"
mkdir -m 0700 "$site"
antsibull-docs sphinx-init --use-current --squash-hierarchy --fail-on-error \
  --project kvmnet.network --title kvmnet.network --copyright 'kvmnet developers' \
  --dest-dir "$site" kvmnet.network >"$tmp/init.log" 2>&1 ||
  { cat "$tmp/init.log" >&2; fail "antsibull-docs sphinx-init"; }

# The local stand-in for docs.ansible.com's inventory (format: Sphinx
# inventory version 2). Labels antsibull-docs links to, with their pages.
"$venv/bin/python" - "$site/ansible_devel.inv" <<'EOF'
import sys, zlib
labels = [
    ("action_plugins", "plugins/action.html#action-plugins", "Action plugins"),
    ("common_return_values", "reference_appendices/common_return_values.html#common-return-values",
     "Return Values"),
    ("ansible_configuration_settings", "reference_appendices/config.html#ansible-configuration-settings",
     "Ansible Configuration Settings"),
]
body = "".join(f"{name} std:label -1 {uri} {title}\n" for name, uri, title in labels)
with open(sys.argv[1], "wb") as f:
    f.write(b"# Sphinx inventory version 2\n# Project: Ansible\n# Version: devel\n"
            b"# The remainder of this file is compressed using zlib.\n")
    f.write(zlib.compress(body.encode()))
EOF
cat >>"$site/conf.py" <<'EOF'

# scripts/docs-site.sh: offline. Only ansible-core's docs are referenced, and
# only through the labels in the local inventory beside this file (the
# path is relative to the source directory, rst/).
intersphinx_mapping = {
    'ansible_devel': ('https://docs.ansible.com/projects/ansible/devel/', '../ansible_devel.inv'),
}
EOF

(cd "$site" &&
  chmod og-w rst &&
  antsibull-docs --config-file antsibull-docs.cfg collection --cleanup everything --fail-on-error \
    --use-current --squash-hierarchy --dest-dir rst kvmnet.network >"$tmp/collection.log" 2>&1) ||
  { cat "$tmp/collection.log" >&2; fail "antsibull-docs collection"; }
(cd "$site" && sphinx-build -M html rst build -c . -W --keep-going -q) >"$tmp/sphinx.log" 2>&1 ||
  { cat "$tmp/sphinx.log" >&2; fail "sphinx-build reported warnings (treated as errors)"; }
pages=$(find "$site/build/html" -maxdepth 1 -name '*_module.html' | wc -l)
say "site: ${site#"$repo"/}/build/html/index.html ($pages module pages)"
