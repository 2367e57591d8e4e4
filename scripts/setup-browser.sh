#!/usr/bin/env bash
# Headless Chromium for the HTML report's browser test (tests/validators/test_report_browser.py).
# Installs Debian's chromium when it is missing and we are root; otherwise says what to do and
# leaves the test to skip with that reason.
set -euo pipefail
for name in chromium chromium-browser google-chrome google-chrome-stable; do
  if command -v "$name" >/dev/null 2>&1; then
    exit 0
  fi
done
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
else
  echo "setup-browser: no chromium found and cannot install it (needs root and apt-get);" \
       "the browser test will skip. Install it with: sudo apt-get install -y chromium" >&2
fi
