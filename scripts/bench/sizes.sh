#!/usr/bin/env bash
# Sizes: every module binary of the collection (each architecture; a binary
# module is copied to the host on every task), the trivial floor module,
# and the collection tarball in dist/.
#   sizes.sh
# Writes $BENCH_RESULTS/sizes.tsv: file, bytes.
set -euo pipefail
# shellcheck source=scripts/bench/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

mkdir -p "$BENCH_RESULTS"
out=$BENCH_RESULTS/sizes.tsv
printf '# file\tbytes\n' >"$out"
version=$("$BENCH_VENV/bin/python" -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["version"])' "$BENCH_REPO/collection/galaxy.yml")
tarball=$BENCH_REPO/dist/kvmnet-network-$version.tar.gz
[ -f "$tarball" ] || bench_die "$tarball missing (make collection)"
ls "$BENCH_BIN"/*_* >/dev/null 2>&1 || bench_die "no binaries in $BENCH_BIN (make collection)"

declare -A total=()
for f in "$BENCH_BIN"/*_*; do
  name=$(basename "$f")
  size=$(stat -c %s "$f")
  printf '%s\t%s\n' "binaries/$name" "$size" >>"$out"
  case $name in
    *_x86_64) arch=x86_64 ;;
    *_aarch64) arch=aarch64 ;;
    *) arch=other ;;
  esac
  total[$arch]=$((${total[$arch]:-0} + size))
done
for arch in $(printf '%s\n' "${!total[@]}" | sort); do
  printf '%s\t%s\n' "all binaries, $arch" "${total[$arch]}" >>"$out"
done
printf '%s\t%s\n' "trivial static binary module (floor)" "$(stat -c %s "$BENCH_BUILD/library/bench_trivial")" >>"$out"
printf '%s\t%s\n' "collection tarball $(basename "$tarball")" "$(stat -c %s "$tarball")" >>"$out"
column -t -s $'\t' "$out" >&2
