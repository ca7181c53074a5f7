#!/usr/bin/env bash
# Build the Apache Iceberg REST catalog server used by the `rest` tests.
#
# No Docker, no Maven Central: Apache Iceberg 1.10.2's server-side REST code comes from the
# iceberg-spark-runtime jar inside the PyPI wheel snowpark-connect-deps-iceberg, its (stripped)
# relocated Jackson is rebuilt from jars in snowpark-connect-deps-2 with Debian's jarjar, and SQLite
# JDBC comes from Debian. See /work/shared/notes/rest-catalog.md and tests/rest_catalog/.
#
# Output (never inside the repo):
#   ${FEATURESTORE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/featurestore}/rest-catalog/
#     featurestore-rest-server.jar   runnable: java -jar ... <port|0> <warehouse dir> <sqlite db>
#     lib/*.jar                      its Class-Path
#     classpath.txt                  the same class path, ':'-separated absolute paths
#     stamp                          hash of the Java sources + this script
# Re-running with nothing changed is a no-op (well under a second). Env: PYTHON, FEATURESTORE_CACHE_DIR.
set -euo pipefail

log() { printf '[build-rest-catalog] %s\n' "$*" >&2; }
die() { trap - EXIT; printf '[build-rest-catalog] ERROR: %s\n' "$*" >&2; exit 1; }
trap 'rc=$?; [ $rc -eq 0 ] || printf "[build-rest-catalog] ERROR: failed (exit %s) at line %s: %s\n" "$rc" "$LINENO" "$BASH_COMMAND" >&2' EXIT

SCRIPT_PATH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
REPO_ROOT="$(cd "$(dirname "$SCRIPT_PATH")/.." && pwd)"
SRC_DIR="$REPO_ROOT/tests/rest_catalog/java"
CACHE_ROOT="${FEATURESTORE_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME:?set HOME or FEATURESTORE_CACHE_DIR}/.cache}/featurestore}"
OUT="$CACHE_ROOT/rest-catalog"
PYTHON="${PYTHON:-python3}"

ICEBERG_WHEEL_REQ="snowpark-connect-deps-iceberg==1.0.3"
ICEBERG_WHEEL_FILE="snowpark_connect_deps_iceberg-1.0.3-py3-none-any.whl"
ICEBERG_WHEEL_SHA256="4f280e3677ab8d3a89f16647fc392ab2a3d48369f0c48873fe07bc1e74e06ffc"
ICEBERG_JAR="iceberg-spark-runtime-3.5_2.12-1.10.2.jar"
DEPS_WHEEL_REQ="snowpark-connect-deps-2==3.56.7"
DEPS_WHEEL_FILE="snowpark_connect_deps_2-3.56.7-py3-none-any.whl"
DEPS_WHEEL_SHA256="567f48506b8dd6c78083210aa6e741ba057d5a9b8ce45d58b7a12250f5ba7a5d"
JACKSON_JARS=(jackson-core-2.18.8.jar jackson-databind-2.18.8.jar jackson-annotations-2.18.8.jar)
SLF4J_JAR="slf4j-api-2.0.7.jar"
SQLITE_JAR="/usr/share/java/sqlite-jdbc.jar"
JARJAR_CP="/usr/share/java/jarjar.jar:/usr/share/java/asm.jar:/usr/share/java/asm-commons.jar:/usr/share/java/asm-tree.jar"
MAIN_CLASS="org.apache.iceberg.rest.FeaturestoreRestServer"

[ -d "$SRC_DIR" ] || die "Java sources not found at $SRC_DIR"

# --- fast path: nothing changed -------------------------------------------------------------------
source_hash() {
  (
    cd "$REPO_ROOT"
    { sha256sum "scripts/$(basename "$SCRIPT_PATH")"; find tests/rest_catalog/java -name '*.java' -type f -print0 | sort -z | xargs -0 sha256sum; } | sha256sum | cut -d' ' -f1
  )
}
HASH="$(source_hash)"
is_fresh() {
  [ -f "$OUT/stamp" ] && [ "$(cat "$OUT/stamp")" = "$HASH" ] \
    && [ -f "$OUT/featurestore-rest-server.jar" ] && [ -f "$OUT/classpath.txt" ] && [ -f "$SQLITE_JAR" ]
}
if is_fresh; then
  log "up to date: $OUT (stamp $HASH)"
  echo "$OUT"
  trap - EXIT
  exit 0
fi

mkdir -p "$OUT" || die "cannot create output directory $OUT"
command -v flock >/dev/null 2>&1 && { exec 9>"$OUT/.lock"; flock 9; }
if is_fresh; then  # another process built it while we waited for the lock
  log "up to date: $OUT (built concurrently)"
  echo "$OUT"
  trap - EXIT
  exit 0
fi
log "building into $OUT"

# --- system packages -------------------------------------------------------------------------------
pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
missing=()
if ! command -v javac >/dev/null 2>&1 || ! command -v jar >/dev/null 2>&1 || ! command -v java >/dev/null 2>&1; then
  missing+=(default-jdk-headless)
fi
for pkg in libjarjar-java libasm-java libxerial-sqlite-jdbc-java; do
  pkg_installed "$pkg" || missing+=("$pkg")
done
if ! "$PYTHON" -m pip --version >/dev/null 2>&1; then
  missing+=(python3-pip)
fi
if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 || die "missing packages (${missing[*]}) and no apt-get: install them by hand"
  if [ "$(id -u)" -ne 0 ]; then
    die "missing Debian packages: ${missing[*]}. Run as root: apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
  fi
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2 || die "apt-get update failed"
  apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 || die "apt-get install ${missing[*]} failed"
fi
for f in "$SQLITE_JAR" /usr/share/java/jarjar.jar /usr/share/java/asm.jar /usr/share/java/asm-commons.jar; do
  [ -f "$f" ] || die "expected $f (from Debian packages libjarjar-java libasm-java libxerial-sqlite-jdbc-java)"
done
command -v javac >/dev/null 2>&1 || die "javac not found (install default-jdk-headless)"
JAVA_MAJOR="$(javac -version 2>&1 | sed -E 's/^javac ([0-9]+).*/\1/')"
[ "${JAVA_MAJOR:-0}" -ge 11 ] 2>/dev/null || die "need JDK 11+ (found: $(javac -version 2>&1))"

# --- third-party jars (lib/, reused while its key matches) ------------------------------------------
LIB_JARS=("$ICEBERG_JAR" jackson-relocated-2.18.8.jar "$SLF4J_JAR" sqlite-jdbc.jar)
JARJAR_RULE='rule com.fasterxml.jackson.** org.apache.iceberg.shaded.com.fasterxml.jackson.@1'
LIB_KEY="$(printf '%s\n' "$ICEBERG_WHEEL_SHA256" "$DEPS_WHEEL_SHA256" "$ICEBERG_JAR" "$SLF4J_JAR" \
  "${JACKSON_JARS[@]}" "$JARJAR_RULE" "$(sha256sum "$SQLITE_JAR" | cut -d' ' -f1)" | sha256sum | cut -d' ' -f1)"
lib_ok() {
  [ -f "$OUT/lib/.key" ] && [ "$(cat "$OUT/lib/.key")" = "$LIB_KEY" ] || return 1
  local j
  for j in "${LIB_JARS[@]}"; do [ -s "$OUT/lib/$j" ] || return 1; done
}

WORK="$OUT/.work"
rm -rf "$WORK"
mkdir -p "$WORK/classes"

if lib_ok; then
  log "third-party jars up to date in $OUT/lib"
else
  WHEELS="$OUT/wheels"
  mkdir -p "$WHEELS"
  wheel_ok() { [ -f "$WHEELS/$1" ] && echo "$2  $WHEELS/$1" | sha256sum -c --status; }
  need_download=()
  wheel_ok "$ICEBERG_WHEEL_FILE" "$ICEBERG_WHEEL_SHA256" || need_download+=("$ICEBERG_WHEEL_REQ --hash=sha256:$ICEBERG_WHEEL_SHA256")
  wheel_ok "$DEPS_WHEEL_FILE" "$DEPS_WHEEL_SHA256" || need_download+=("$DEPS_WHEEL_REQ --hash=sha256:$DEPS_WHEEL_SHA256")
  if [ ${#need_download[@]} -gt 0 ]; then
    log "downloading wheels from PyPI (~130 MB): ${need_download[*]%% *}"
    req="$WHEELS/requirements.txt"
    printf '%s\n' "${need_download[@]}" >"$req"
    "$PYTHON" -m pip download --no-deps --only-binary=:all: --require-hashes -r "$req" -d "$WHEELS" >&2 \
      || die "pip download failed (is PyPI reachable? PYTHON=$PYTHON)"
    wheel_ok "$ICEBERG_WHEEL_FILE" "$ICEBERG_WHEEL_SHA256" || die "bad or missing $WHEELS/$ICEBERG_WHEEL_FILE"
    wheel_ok "$DEPS_WHEEL_FILE" "$DEPS_WHEEL_SHA256" || die "bad or missing $WHEELS/$DEPS_WHEEL_FILE"
  else
    log "wheels cached in $WHEELS"
  fi

  mkdir -p "$WORK/lib" "$WORK/jackson"
  log "extracting $ICEBERG_JAR, Jackson 2.18.8 and slf4j-api from the wheels"
  "$PYTHON" - "$WHEELS/$ICEBERG_WHEEL_FILE" "$WHEELS/$DEPS_WHEEL_FILE" "$WORK/lib" "$ICEBERG_JAR" "$SLF4J_JAR" "${JACKSON_JARS[@]}" <<'PY' || die "extracting jars from the wheels failed"
import shutil, sys, zipfile, pathlib
iceberg_whl, deps_whl, dest, *wanted = sys.argv[1:]
dest = pathlib.Path(dest)
todo = set(wanted)
for whl in (iceberg_whl, deps_whl):
    with zipfile.ZipFile(whl) as zf:
        for info in zf.infolist():
            name = info.filename.rsplit("/", 1)[-1]
            if name in todo and "/jars/" in info.filename:
                with zf.open(info) as src, open(dest / name, "wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
                todo.discard(name)
if todo:
    sys.exit(f"not found in wheels: {sorted(todo)}")
PY

  log "relocating Jackson to org.apache.iceberg.shaded.com.fasterxml.jackson (jarjar)"
  (
    cd "$WORK/jackson"
    for j in "${JACKSON_JARS[@]}"; do
      jar xf "$WORK/lib/$j"
    done
    rm -rf META-INF/versions META-INF/services META-INF/*.SF META-INF/*.RSA META-INF/*.DSA
    find . -name module-info.class -delete
  ) || die "unpacking Jackson failed"
  jar cf "$WORK/jackson-merged.jar" -C "$WORK/jackson" . || die "merging Jackson jars failed"
  echo "$JARJAR_RULE" >"$WORK/jarjar-rules.txt"
  java -cp "$JARJAR_CP" com.tonicsystems.jarjar.Main process "$WORK/jarjar-rules.txt" \
    "$WORK/jackson-merged.jar" "$WORK/lib/jackson-relocated-2.18.8.jar" >&2 || die "jarjar failed"
  for j in "${JACKSON_JARS[@]}"; do rm -f "$WORK/lib/$j"; done
  cp "$SQLITE_JAR" "$WORK/lib/sqlite-jdbc.jar"
  echo "$LIB_KEY" >"$WORK/lib/.key"
  # Replace by rename: a server still running from the old lib/ keeps its open jars intact.
  rm -rf "$OUT/lib.old"
  [ -d "$OUT/lib" ] && mv "$OUT/lib" "$OUT/lib.old"
  mv "$WORK/lib" "$OUT/lib"
  rm -rf "$OUT/lib.old"
fi

# --- compile the server --------------------------------------------------------------------------------
COMPILE_CP="$(printf "$OUT/lib/%s:" "${LIB_JARS[@]}")"
log "compiling $(find "$SRC_DIR" -name '*.java' | wc -l) Java source(s) from tests/rest_catalog/java"
find "$SRC_DIR" -name '*.java' -print0 | xargs -0 javac --release "$JAVA_MAJOR" -nowarn -encoding UTF-8 \
  -cp "$COMPILE_CP" -d "$WORK/classes" >&2 || die "javac failed"

{
  echo "Main-Class: $MAIN_CLASS"
  printf 'Class-Path:'
  for j in "${LIB_JARS[@]}"; do printf ' \n lib/%s' "$j"; done
  printf '\n'
} >"$WORK/manifest.txt"
jar cfm "$WORK/featurestore-rest-server.jar" "$WORK/manifest.txt" -C "$WORK/classes" . || die "jar failed"

rm -f "$OUT/stamp"
mv "$WORK/featurestore-rest-server.jar" "$OUT/featurestore-rest-server.jar"
CP="$OUT/featurestore-rest-server.jar$(printf ":$OUT/lib/%s" "${LIB_JARS[@]}")"
echo "$CP" >"$OUT/classpath.txt"
rm -rf "$WORK"

log "self-test: namespace + table round trip through the REST handlers on a temp SQLite catalog"
rc=0
java -cp "$CP" "$MAIN_CLASS" --self-test >"$OUT/self-test.log" 2>&1 || rc=$?
if [ $rc -ne 0 ] || ! grep -q '^SELF-TEST OK' "$OUT/self-test.log"; then
  tail -n 40 "$OUT/self-test.log" >&2
  die "self-test failed (exit $rc); full log: $OUT/self-test.log"
fi

echo "$HASH" >"$OUT/stamp"
log "done: java -jar $OUT/featurestore-rest-server.jar <port|0> <warehouse dir> <sqlite db>"
echo "$OUT"
trap - EXIT
