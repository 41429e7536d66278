#!/usr/bin/env bash
# Fashion-MNIST for `make demo` and `make test` (the Makefile's `data` target calls this).
#
# In this order:
#   1. the places resnetlab looks (--root, $RESNETLAB_DATA, ~/.cache/resnetlab, system folders)
#      and 2. the official download, MD5-verified: both are `resnetlab data get`;
#   3. Debian's dataset-fashion-mnist through apt-get, when we are root or `sudo -n` works;
#   4. otherwise resnetlab's own message (what is missing, where it looked, how to fix it),
#      and exit 1.
# The package manager lives here, not in the Python package: `pip install resnetlab` never
# runs apt.
#
# Overridable for tests and unusual set-ups: RESNETLAB (the resnetlab command), APT_GET.
set -u

RESNETLAB=${RESNETLAB:-.venv/bin/resnetlab}
APT_GET=${APT_GET:-apt-get}
DATASET=fashion-mnist
DEB_PACKAGE=dataset-fashion-mnist

err=$(mktemp)
trap 'rm -f "$err"' EXIT

# 1 + 2: found, or downloaded and verified. Its stdout (where the files are) goes straight
# through; its error message is kept for step 4.
if "$RESNETLAB" data get "$DATASET" 2>"$err"; then
    exit 0
fi

# 3: the system's package manager, only without a password prompt.
why_not_apt=""
if ! command -v "$APT_GET" >/dev/null 2>&1; then
    why_not_apt="no $APT_GET on this system"
elif [ "$(id -u)" = 0 ]; then
    sudo=()
    how="as root"
elif command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then
    sudo=(sudo -n)
    how="through sudo"
else
    why_not_apt="not root, and sudo is missing or asks for a password"
fi

if [ -z "$why_not_apt" ]; then
    echo "$DATASET: not found and not downloadable; installing Debian's $DEB_PACKAGE" \
         "with $APT_GET ($how)"
    # A fresh machine may have empty package lists: update once if the first try fails.
    if "${sudo[@]}" "$APT_GET" install -y -q "$DEB_PACKAGE" \
        || { "${sudo[@]}" "$APT_GET" update -q \
             && "${sudo[@]}" "$APT_GET" install -y -q "$DEB_PACKAGE"; }; then
        if "$RESNETLAB" data get "$DATASET" 2>"$err"; then
            echo "$DATASET: installed by $APT_GET install $DEB_PACKAGE"
            exit 0
        fi
        why_not_apt="$APT_GET installed $DEB_PACKAGE, but resnetlab still does not find it"
    else
        why_not_apt="$APT_GET install $DEB_PACKAGE failed (see above)"
    fi
fi

# 4: resnetlab's own message, and why apt did not help.
cat "$err" >&2
echo "  (apt: $why_not_apt)" >&2
exit 1
