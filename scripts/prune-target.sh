#!/usr/bin/env bash
# Keeps the shared target dir from filling the disk. Every clone builds the workspace's own
# crates under new hashes (the clone's path is part of them) into the one target dir that
# clones share for third-party crates, so old clones' outputs pile up: 11 GB of them, plus
# 37 GB of incremental caches, filled this machine once and made a CI run fail on a full
# disk. This deletes the workspace crates' outputs and incremental caches that nothing has
# written for two days; third-party crates stay, and anything deleted that is still wanted
# is simply built again. `make test` runs it first.
#
#   scripts/prune-target.sh [target-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir=${1:-${CARGO_TARGET_DIR:-target}}
[ -d "$target_dir" ] || exit 0

# The workspace's own target names (lib, bins, tests, examples), as rustc writes them.
names=$(cargo metadata --no-deps --format-version 1 --offline 2>/dev/null | python3 -c '
import json, sys
meta = json.load(sys.stdin)
print("|".join(sorted({t["name"].replace("-", "_") for p in meta["packages"] for t in p["targets"]})))
') || exit 0
[ -n "$names" ] || exit 0

before=$(du -sk "$target_dir" | cut -f1)
find "$target_dir" -mindepth 2 -maxdepth 4 \( -path '*/deps/*' -o -path '*/incremental/*' -o -path '*/examples/*' \) \
  -mtime +2 -regextype posix-extended -regex ".*/(lib)?(${names})-[0-9a-z]{13,16}(\..*)?" \
  -exec rm -rf {} + 2>/dev/null || true
after=$(du -sk "$target_dir" | cut -f1)
freed=$(( (before - after) / 1024 ))
[ "$freed" -gt 0 ] && printf '[prune] %s MB of old workspace outputs removed from %s\n' "$freed" "$target_dir"

avail_gb=$(( $(df -Pk "$target_dir" | awk 'NR == 2 { print $4 }') / 1024 / 1024 ))
if [ "$avail_gb" -lt 12 ]; then
  printf '[prune] warning: %s GB free on the disk of %s; make test needs about 12 (builds, PostgreSQL, Kafka, Chromium)\n' \
    "$avail_gb" "$target_dir" >&2
fi
exit 0
