#!/usr/bin/python3
"""A live RTSP stream with settings a doorbell should not have (B-frames, long GOPs, HEVC).

For provisioning tests: the emulated cameras are well set; this one is not. Run with
Debian's /usr/bin/python3 (GObject bindings for GstRtspServer). Serves
rtsp://127.0.0.1:PORT/stream and prints one JSON line {"port": N} once it listens; exits
when stdin closes, or on SIGTERM.
"""

import argparse
import json
import os
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


REQUIRED_ELEMENTS = ["videotestsrc", "x264enc", "rtph264pay", "x265enc", "rtph265pay"]


def launch_line(hevc, bframes, keyframe_frames):
    """The stream's pipeline (the OS package guard reads its elements here)."""
    # No tune=zerolatency: it turns B-frames off.
    if not hevc:
        encode = (
            f"x264enc speed-preset=ultrafast bframes={bframes} b-adapt=false "
            f"key-int-max={keyframe_frames} ! video/x-h264,profile=main "
            "! rtph264pay name=pay0 pt=96 config-interval=-1"
        )
    else:
        encode = (
            f"x265enc speed-preset=ultrafast key-int-max={keyframe_frames} "
            "! rtph265pay name=pay0 pt=96 config-interval=-1"
        )
    return (
        "( videotestsrc is-live=true pattern=ball "
        "! video/x-raw,width=640,height=360,framerate=25/1 "
        f"! {encode} )"
    )


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--bframes", type=int, default=0)
    parser.add_argument("--keyframe-frames", type=int, default=25)
    parser.add_argument("--codec", choices=["h264", "h265"], default="h264")
    args = parser.parse_args(argv)
    Gst.init(None)
    missing = [name for name in REQUIRED_ELEMENTS if Gst.ElementFactory.find(name) is None]
    if missing:
        print(f"odd-camera: missing GStreamer elements: {', '.join(missing)}", file=sys.stderr)
        return 1

    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch_line(args.codec == "h265", args.bframes, args.keyframe_frames))
    factory.set_shared(True)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    server.get_mount_points().add_factory("/stream", factory)
    source = server.create_source(None)
    source.attach(None)

    loop = GLib.MainLoop()

    def on_signal():
        loop.quit()
        return GLib.SOURCE_REMOVE

    for signum in (signal.SIGINT, signal.SIGTERM):
        GLib.unix_signal_add(GLib.PRIORITY_HIGH, signum, on_signal)

    def on_stdin(fd, _condition):
        if os.read(fd, 4096) == b"":
            loop.quit()
            return GLib.SOURCE_REMOVE
        return GLib.SOURCE_CONTINUE

    condition = GLib.IOCondition.IN | GLib.IOCondition.HUP
    GLib.unix_fd_add_full(GLib.PRIORITY_DEFAULT, sys.stdin.fileno(), condition, on_stdin)
    print(json.dumps({"port": server.get_bound_port()}), flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    os._exit(code)
