#!/usr/bin/env bash
# Install the Debian packages in deploy/system/packages.txt that are not installed yet.
# Where there is no apt (or no root), say which are missing and go on: the tests that need
# them are then reported as skipped, loudly.
set -uo pipefail
cd "$(dirname "$0")/.."
mapfile -t wanted < <(sed -e 's/#.*//' -e 's/[[:space:]]*$//' deploy/system/packages.txt | grep -v '^$')
missing=()
for package in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
as_root=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then as_root=(sudo -n); fi
fi
if ! command -v apt-get >/dev/null || { [ "$(id -u)" -ne 0 ] && [ ${#as_root[@]} -eq 0 ]; }; then
    echo "!! Not installed (no apt-get or no root): ${missing[*]}" >&2
    echo "!! The tests that need them will be reported as SKIPPED." >&2
    exit 0
fi
mkdir -p var
echo "Installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
if ! "${as_root[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >var/apt.log 2>&1; then
    "${as_root[@]}" apt-get update -q >>var/apt.log 2>&1
    "${as_root[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >>var/apt.log 2>&1 || {
        echo "!! apt-get could not install ${missing[*]} (see var/apt.log);" \
             "the tests that need them will be reported as SKIPPED." >&2
        exit 0
    }
fi
rm -f var/apt.log
