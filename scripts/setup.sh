#!/usr/bin/env bash
# Create .venv and install onnxgate with the given extras, pinned by constraints.txt.
# Idempotent: re-installs only when pyproject.toml or constraints.txt changed.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-all}"
py="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$py" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
fi
stamp=".venv/.onnxgate-$extras.stamp"
want="$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  # torch first and exactly: a plain range can pull a multi-GB CUDA build (see constraints.txt).
  .venv/bin/python -m pip install -q -c constraints.txt "torch==2.13.0"
  .venv/bin/python -m pip install -q -c constraints.txt -e ".[$extras]"
  echo "$want" > "$stamp"
fi
# Spark (extra "spark", inside "all") runs on Java 17 or 21. As root with apt-get, a missing Java is
# installed (Debian's openjdk-17-jre-headless); otherwise it only warns: everything else works, and the
# Spark tests skip saying why.
java_major() {
  local java_bin="${JAVA_HOME:+$JAVA_HOME/bin/}java"
  "$java_bin" -version 2>&1 | sed -n 's/.*version "\([0-9]*\)[."].*/\1/p' | head -n1 || true
}
case ",$extras," in
  *,all,*|*,spark,*|*,test,*)
    found="$(java_major)"
    if [ "$found" != 17 ] && [ "$found" != 21 ] && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless
      found="$(java_major)"
    fi
    case "$found" in
      17|21) ;;
      "") echo "warning: onnxgate.spark needs Java 17 or 21 and no java was found; install it with" \
               "'sudo apt-get install openjdk-17-jre-headless' (or set JAVA_HOME)" >&2 ;;
      *) echo "warning: onnxgate.spark needs Java 17 or 21, found Java $found; install" \
              "'sudo apt-get install openjdk-17-jre-headless' and point JAVA_HOME at it" >&2 ;;
    esac
    ;;
esac
