#!/usr/bin/env bash
# ABI checks on libember.so, run by CTest (tests/packaging.cmake):
#
#   tools/abi_check.sh symbols LIB LIST
#       The names that LIB exports (nm -D --defined-only, version suffix dropped) must be
#       exactly the names in LIST (api/ember.symbols, one per line, '#' comments).
#   tools/abi_check.sh abidiff LIB BASELINE
#       abidiff (Debian's abigail-tools) compares LIB with the ABI of the last release,
#       BASELINE (api/abi/libember.so.abi, written by tools/abi_baseline.sh). Exits 77
#       (CTest: skipped) when no baseline is committed yet or abidiff is missing.
set -euo pipefail
mode=${1:?usage: abi_check.sh symbols LIB LIST | abidiff LIB BASELINE}
lib=${2:?library path}
ref=${3:?list or baseline path}

case "$mode" in
symbols)
  got=$(mktemp) want=$(mktemp)
  trap 'rm -f "$got" "$want"' EXIT
  # Defined dynamic symbols, minus the version-node definition (type A, "EMBER_0").
  nm -D --defined-only "$lib" | awk '$2 != "A" { sub(/@.*/, "", $3); print $3 }' | LC_ALL=C sort -u >"$got"
  sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' "$ref" | LC_ALL=C sort -u >"$want"
  added=$(LC_ALL=C comm -23 "$got" "$want")
  removed=$(LC_ALL=C comm -13 "$got" "$want")
  if [ -z "$added" ] && [ -z "$removed" ]; then
    echo "abi_symbols: $(wc -l <"$got") exported symbols match $ref"
    exit 0
  fi
  echo "abi_symbols: the symbols exported by $lib differ from $ref" >&2
  if [ -n "$added" ]; then
    echo "" >&2
    echo "New exported symbols (not in the committed list):" >&2
    echo "$added" | sed 's/^/  + /' >&2
    echo "If they are new public API, declare them in api/ember.h (with Since:) and add" >&2
    echo "each name to $ref in the same commit. If not, they leaked: give them" >&2
    echo "internal linkage or a name outside ember_* (api/ember.map exports ember_*)." >&2
  fi
  if [ -n "$removed" ]; then
    echo "" >&2
    echo "Symbols in the committed list that the library no longer exports:" >&2
    echo "$removed" | sed 's/^/  - /' >&2
    echo "Removing or renaming a public function breaks every program linked against" >&2
    echo "libember.so.0. Restore it (a changed signature gets a new name, e.g. _v2, and the" >&2
    echo "old one stays); only a new SONAME (a major release) may drop it." >&2
  fi
  exit 1
  ;;
abidiff)
  if [ ! -f "$ref" ]; then
    echo "abi_baseline: no ABI baseline at $ref (none before the first release;" \
         "tools/abi_baseline.sh writes one) - skipped"
    exit 77
  fi
  if ! command -v abidiff >/dev/null; then
    echo "abi_baseline: abidiff not found (apt-get install abigail-tools) - skipped"
    exit 77
  fi
  src=$(cd "$(dirname "$0")/.." && pwd)
  # Added functions are not reported here (abi_symbols polices them); appended fields of
  # options/info structs and the opaque handles are suppressed (api/abi/ember.suppr).
  # Anything else abidiff finds (a removed function, a changed signature, a struct field
  # moved or retyped, an enum value changed) fails.
  set +e
  abidiff --no-added-syms --suppressions "$src/api/abi/ember.suppr" "$ref" "$lib"
  rc=$?
  set -e
  # abidiff's exit status is a bit field: 1 error, 2 usage, 4 ABI change, 8 incompatible.
  if [ $((rc & 3)) -ne 0 ]; then
    echo "abi_baseline: abidiff failed (exit $rc)" >&2
    exit 1
  elif [ $rc -ne 0 ]; then
    echo "" >&2
    echo "abi_baseline: the ABI changed against the last release ($ref), see above." >&2
    echo "Programs built against that release must keep working: restore the old" >&2
    echo "declaration; add a new function (and list it in api/ember.symbols) or append" >&2
    echo "a field to an options struct instead. A deliberate break needs a new SONAME." >&2
    exit 1
  fi
  echo "abi_baseline: no ABI change against $ref"
  ;;
*)
  echo "abi_check.sh: unknown mode '$mode'" >&2
  exit 2
  ;;
esac
