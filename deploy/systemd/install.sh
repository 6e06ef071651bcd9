#!/usr/bin/env bash
# Installs Threshold as a systemd service. Run as root from a checkout in which `npm ci` has
# run (it builds dist/):
#
#   sudo deploy/systemd/install.sh
#   sudo threshold provision                     # writes /etc/threshold/config.json
#   sudo threshold doctor --config /etc/threshold/config.json
#   sudo systemctl enable --now threshold
#
# It makes the `threshold` system user, copies the agent to /opt/threshold (production
# dependencies only), links /usr/local/bin/threshold, creates /etc/threshold and
# /var/lib/threshold, and installs the unit. Running it again updates the copy and keeps
# the config and the data.
set -euo pipefail

PREFIX=/opt/threshold
USER_NAME=threshold
CONFIG_DIR=/etc/threshold
DATA_DIR=/var/lib/threshold
UNIT_DIR=/etc/systemd/system
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

die() { echo "install.sh: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "run as root (sudo $0)"
[ -f "$repo/dist/agent/cli/entry.js" ] || die "no build in $repo/dist: run npm ci first"
node_path=$(command -v node) || die "node is not installed (Node.js 20 or newer)"
command -v ffmpeg >/dev/null || echo "install.sh: warning: ffmpeg is not installed (apt-get install ffmpeg)" >&2

# The agent's own account: no login, no home of its own beyond its state directory.
if ! id -u "$USER_NAME" >/dev/null 2>&1; then
  useradd --system --user-group --home-dir "$DATA_DIR" --no-create-home \
    --shell /usr/sbin/nologin --comment "Threshold doorbell agent" "$USER_NAME"
fi

# The program, owned by root so the service cannot change it.
install -d -m 0755 "$PREFIX"
rm -rf "$PREFIX/dist" "$PREFIX/bin" "$PREFIX/node_modules"
cp -a "$repo/package.json" "$repo/package-lock.json" "$repo/README.md" "$PREFIX/"
cp -a "$repo/bin" "$repo/dist" "$repo/node_modules" "$PREFIX/"
# The emulated camera script is only for demos; the built agent finds it here if asked.
install -d -m 0755 "$PREFIX/scripts/camera"
cp -a "$repo/scripts/camera/emulated-camera.py" "$PREFIX/scripts/camera/"
(cd "$PREFIX" && npm prune --omit=dev --no-audit --no-fund >/dev/null)
chown -R root:root "$PREFIX"
chmod 0755 "$PREFIX/bin/threshold.js"
ln -sf "$PREFIX/bin/threshold.js" /usr/local/bin/threshold

# The config directory: the agent's group may enter it; the config itself is 0600, the
# agent's (threshold provision writes it so).
install -d -m 0750 -o root -g "$USER_NAME" "$CONFIG_DIR"
# The data directory; systemd's StateDirectory= would make it too, at the first start.
install -d -m 0700 -o "$USER_NAME" -g "$USER_NAME" "$DATA_DIR"

# The unit, with this machine's node.
sed "s|^ExecStart=/usr/bin/node |ExecStart=$node_path |" "$here/threshold.service" \
  > "$UNIT_DIR/threshold.service.tmp"
chmod 0644 "$UNIT_DIR/threshold.service.tmp"
mv "$UNIT_DIR/threshold.service.tmp" "$UNIT_DIR/threshold.service"
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload
else
  echo "install.sh: systemd is not running here; the unit is installed but not loaded" >&2
fi

cat <<DONE
Installed Threshold in $PREFIX (unit $UNIT_DIR/threshold.service, user $USER_NAME).
Next:
  threshold provision                 set up the camera, location and broker (as root)
  threshold doctor --config $CONFIG_DIR/config.json
  systemctl enable --now threshold
DONE
