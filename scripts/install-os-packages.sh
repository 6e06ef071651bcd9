#!/usr/bin/env bash
# Installs the OS packages Threshold and its tests use (Debian 12). Run as root.
# `npm test` checks this list against what the code uses (scripts/os-packages/).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends \
  ffmpeg \
  mosquitto \
  openssl \
  python3-gi gir1.2-gst-rtsp-server-1.0 gir1.2-gdkpixbuf-2.0 \
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good \
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-rtsp gstreamer1.0-x \
  python3-nacl \
  systemd \
  chromium
