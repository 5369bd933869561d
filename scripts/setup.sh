#!/usr/bin/env bash
# Installs what ntop-rs needs to build and test on Debian/Ubuntu. Idempotent: installs only
# what is missing, so it is quick on a machine that already has everything.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

packages=(build-essential pkg-config libpcap-dev tshark tcpdump iproute2 tmux nmap hping3 curl python3 python3-venv prometheus default-jre-headless chromium openssl iputils-ping libcap2-bin ethtool time)
missing=()
for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: installing ${missing[*]}" >&2
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null 2>&1; then
    echo "setup: installing the Rust toolchain with rustup" >&2
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl ca-certificates >/dev/null
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
fi

# Python tools the tests read our files with (DuckDB for the CSV and NDJSON files,
# pyspark for the fleet job), in a virtual environment of the checkout's own
# (target/venv), from PyPI.
VENV="$(cd "$(dirname "$0")/.." && pwd)/target/venv"
if [ ! -x "$VENV/bin/python" ]; then
    echo "setup: creating $VENV" >&2
    mkdir -p "$(dirname "$VENV")"
    python3 -m venv "$VENV"
fi
for module in duckdb pyspark aiosmtpd; do
    if ! "$VENV/bin/python" -c "import $module" >/dev/null 2>&1; then
        echo "setup: installing $module into $VENV" >&2
        "$VENV/bin/pip" install -q --disable-pip-version-check "$module"
    fi
done
