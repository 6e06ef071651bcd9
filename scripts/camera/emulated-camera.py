#!/usr/bin/python3
"""Emulated doorbell cameras: a GStreamer RTSP server serving K H.264 cameras.

Run with Debian's /usr/bin/python3, which has the GObject bindings for GstRtspServer.

Each camera at rtsp://HOST:PORT/camN shows a static test card with a burnt-in UTC wall
clock. During the scripted motion windows (seconds after the server start) a large
high-contrast object crosses the picture; outside them nothing moves but the clock text,
so that a scene-change detector sees a still scene. The object's position is a function of
wall time, so every client (and every re-created pipeline) sees the same picture.

On start it prints one JSON line to stdout:
  {"event":"ready","port":N,"startedAt":<epoch ms>,"urls":[...]}
and then serves until SIGTERM or SIGINT (or, with --exit-on-stdin-close, until stdin ends).
Exit codes: 0 when told to stop, 2 bad arguments, 3 missing GStreamer part, 4 cannot listen.
"""

import argparse
import json
import os
import re
import signal
import sys
import time

# The burnt-in clock is UTC, like the agent's segment index; clockoverlay uses local time.
os.environ["TZ"] = "UTC"
time.tzset()

try:
    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    gi.require_version("GdkPixbuf", "2.0")
    from gi.repository import GdkPixbuf, GLib, Gst, GstRtspServer
except (ImportError, ValueError) as err:
    print(
        f"emulated-camera: GStreamer RTSP server bindings are missing ({err}); "
        "install python3-gi, gir1.2-gst-rtsp-server-1.0 and gir1.2-gdkpixbuf-2.0 "
        "(scripts/install-os-packages.sh) and run with /usr/bin/python3",
        file=sys.stderr,
    )
    sys.exit(3)

REQUIRED_ELEMENTS = [
    "videotestsrc",
    "imagefreeze",
    "gdkpixbufoverlay",
    "clockoverlay",
    "x264enc",
    "rtph264pay",
]
AUDIO_ELEMENTS = ["audiotestsrc", "audioconvert", "audioresample", "mulawenc", "rtppcmupay"]

# Object size as a fraction of the picture height: tall like a person walking past.
OBJECT_WIDTH = 0.30
OBJECT_HEIGHT = 0.50
OBJECT_BORDER = 0.2
# Constant quantizer: a still 1080p scene costs about 1 Mbit/s (mostly keyframes) and the
# encoder spends no CPU refining a picture that does not change, as x264's CRF mode would.
QUANTIZER = 26
# About how long the object takes to cross the picture once.
CROSSING_SECONDS = 4.0


def parse_size(text):
    match = re.fullmatch(r"(\d{2,4})x(\d{2,4})", text)
    if not match:
        raise argparse.ArgumentTypeError(f"expected WxH, e.g. 1280x720, got {text!r}")
    width, height = int(match.group(1)), int(match.group(2))
    # I420 and x264 need even dimensions.
    if width % 2 or height % 2 or width < 160 or height < 120 or width > 3840 or height > 2160:
        raise argparse.ArgumentTypeError(
            f"size must be even, between 160x120 and 3840x2160, got {text!r}"
        )
    return width, height


def parse_motion(text):
    windows = []
    if text.strip() == "":
        return windows
    for part in text.split(","):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*-\s*(\d+(?:\.\d+)?)\s*", part)
        if not match:
            raise argparse.ArgumentTypeError(f"expected START-END seconds, got {part!r}")
        start, end = float(match.group(1)), float(match.group(2))
        if end <= start:
            raise argparse.ArgumentTypeError(f"window {part!r} must end after it starts")
        windows.append((start, end))
    return windows


def positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {text!r}")
    return value


def parse_args(argv):
    parser = argparse.ArgumentParser(description="Emulated RTSP doorbell cameras.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8554, help="0 picks a free port")
    parser.add_argument("--cameras", type=int, default=1)
    parser.add_argument("--size", type=parse_size, help="WxH for every camera")
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--keyframe-seconds", type=positive_float, default=1.0)
    parser.add_argument("--audio", action="store_true", help="add G.711 mu-law 8 kHz audio")
    parser.add_argument("--motion", type=parse_motion, default=[], help='e.g. "20-25,60-64"')
    parser.add_argument(
        "--exit-on-stdin-close",
        action="store_true",
        help="stop when stdin reaches its end (the parent that spawned us has gone)",
    )
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error("--port must be between 0 and 65535")
    if not 1 <= args.cameras <= 16:
        parser.error("--cameras must be between 1 and 16")
    if not 1 <= args.fps <= 60:
        parser.error("--fps must be between 1 and 60")
    return args


def camera_size(index, override):
    """Camera 1 is 1080p, camera 2 720p, and so on alternating."""
    if override:
        return override
    return (1920, 1080) if index % 2 == 1 else (1280, 720)


def even(value):
    return max(2, int(value) // 2 * 2)


def gop_frames(fps, keyframe_seconds):
    """Frames from one keyframe to the next, e.g. 1.2 s at 25 fps = 30."""
    return max(1, round(fps * keyframe_seconds))


def launch_line(index, width, height, fps, keyframe_seconds, audio):
    gop = gop_frames(fps, keyframe_seconds)
    obj_w, obj_h = even(height * OBJECT_WIDTH), even(height * OBJECT_HEIGHT)
    font_pt = max(8, height // 54)
    raw = f"video/x-raw,format=I420,framerate={fps}/1,width={width},height={height}"
    # A still image frozen into a live stream: the background is drawn once, not per frame,
    # and the object is blended in place over its own rectangle only (a compositor would
    # copy the whole picture every frame and take twice the CPU).
    video = (
        f"videotestsrc pattern=smpte num-buffers=1 ! {raw} ! imagefreeze is-live=true ! {raw} "
        f"! gdkpixbufoverlay name=object positioning-mode=pixels-absolute alpha=0 "
        f'! clockoverlay text="cam{index}" time-format="%Y-%m-%d %H:%M:%S UTC" '
        f'font-desc="Monospace {font_pt}" wrap-mode=none halignment=left valignment=top '
        f"shaded-background=true "
        f"! x264enc speed-preset=ultrafast tune=zerolatency bframes=0 "
        f"key-int-max={gop} pass=quant quantizer={QUANTIZER} "
        f'option-string="scenecut=0:min-keyint={gop}:sliced-threads=0" '
        f"! video/x-h264,profile=constrained-baseline,stream-format=byte-stream "
        f"! rtph264pay name=pay0 pt=96 config-interval=0"
    )
    sound = (
        " audiotestsrc is-live=true wave=sine freq=440 volume=0.05 "
        "! audioconvert ! audioresample ! audio/x-raw,rate=8000,channels=1 "
        "! mulawenc ! rtppcmupay name=pay1 pt=0"
        if audio
        else ""
    )
    return f"( {video}{sound} )", (obj_w, obj_h)


def object_position(now_s, started_s, windows, width, height, obj_size):
    """Where the object is at wall time now_s: (x, y), or None outside the motion windows.

    In a window the object crosses the picture from left to right, entering and leaving it
    fully, in about CROSSING_SECONDS; a longer window holds several crossings. (Always the
    same way: a turn would bring it back over its own track, and two frames a second apart
    around the turn could show it in the same place.)
    """
    elapsed = now_s - started_s
    obj_w, obj_h = obj_size
    for start, end in windows:
        if start <= elapsed < end:
            crossings = max(1, round((end - start) / CROSSING_SECONDS))
            phase = (elapsed - start) / (end - start) * crossings
            progress = phase - int(phase)
            x = round(-obj_w + progress * (width + obj_w))
            y = round(height * 0.45 - obj_h / 2)
            return x, y
    return None


def object_picture(obj_w, obj_h):
    """A white frame around a black core: high contrast on any part of the test card."""
    border = even(min(obj_w, obj_h) * OBJECT_BORDER)
    picture = GdkPixbuf.Pixbuf.new(GdkPixbuf.Colorspace.RGB, False, 8, obj_w, obj_h)
    picture.fill(0xFFFFFFFF)
    core = picture.new_subpixbuf(border, border, obj_w - 2 * border, obj_h - 2 * border)
    core.fill(0x000000FF)
    return picture


def make_factory(index, width, height, args, started_s):
    line, obj_size = launch_line(index, width, height, args.fps, args.keyframe_seconds, args.audio)
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(line)
    # One pipeline for every client, as a real camera has one encoder.
    factory.set_shared(True)
    # Live media must not be seekable: a client's PLAY with a Range would make the server
    # seek, which imagefreeze refuses in live mode (503 to the client) and which would
    # disturb the other clients of a shared media. Publishing the clock offset is the
    # server's switch for "not seekable"; with the system clock it adds nothing to the SDP.
    factory.set_publish_clock_mode(GstRtspServer.RTSPPublishClockMode.CLOCK_AND_OFFSET)

    picture = object_picture(*obj_size)

    def on_configure(_factory, media):
        overlay = media.get_element().get_by_name("object")
        overlay.set_property("pixbuf", picture)

        def on_buffer(_pad, _info):
            # Runs once per frame in the streaming thread, before the overlay blends it.
            position = object_position(
                time.time(), started_s, args.motion, width, height, obj_size
            )
            if position is None:
                overlay.set_property("alpha", 0.0)
            else:
                overlay.set_property("offset-x", position[0])
                overlay.set_property("offset-y", position[1])
                overlay.set_property("alpha", 1.0)
            return Gst.PadProbeReturn.OK

        overlay.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, on_buffer)

    factory.connect("media-configure", on_configure)
    return factory


def main(argv):
    args = parse_args(argv)
    Gst.init(None)
    needed = REQUIRED_ELEMENTS + (AUDIO_ELEMENTS if args.audio else [])
    missing = [name for name in needed if Gst.ElementFactory.find(name) is None]
    if missing:
        print(
            f"emulated-camera: missing GStreamer elements: {', '.join(missing)} "
            "(scripts/install-os-packages.sh installs their plugins)",
            file=sys.stderr,
        )
        return 3

    server = GstRtspServer.RTSPServer()
    server.set_address(args.host)
    server.set_service(str(args.port))
    started_s = time.time()
    mounts = server.get_mount_points()
    paths = []
    for index in range(1, args.cameras + 1):
        width, height = camera_size(index, args.size)
        path = f"/cam{index}"
        mounts.add_factory(path, make_factory(index, width, height, args, started_s))
        paths.append(path)

    try:
        # create_source binds the socket (with SO_REUSEADDR) and reports a failure as an
        # exception, where attach() would only print a warning.
        source = server.create_source(None)
    except GLib.Error as err:
        print(
            f"emulated-camera: cannot listen on {args.host}:{args.port}: {err.message}",
            file=sys.stderr,
        )
        return 4
    source.attach(None)
    port = server.get_bound_port()

    loop = GLib.MainLoop()

    def on_signal():
        loop.quit()
        return GLib.SOURCE_REMOVE

    for signum in (signal.SIGINT, signal.SIGTERM):
        GLib.unix_signal_add(GLib.PRIORITY_HIGH, signum, on_signal)

    if args.exit_on_stdin_close:
        # A parent that dies without stopping us must not leave an encoder running.
        def on_stdin(fd, _condition):
            if os.read(fd, 4096) == b"":
                loop.quit()
                return GLib.SOURCE_REMOVE
            return GLib.SOURCE_CONTINUE

        condition = GLib.IOCondition.IN | GLib.IOCondition.HUP
        GLib.unix_fd_add_full(GLib.PRIORITY_DEFAULT, sys.stdin.fileno(), condition, on_stdin)

    url_host = f"[{args.host}]" if ":" in args.host else args.host
    ready = {
        "event": "ready",
        "port": port,
        "startedAt": round(started_s * 1000),
        "urls": [f"rtsp://{url_host}:{port}{path}" for path in paths],
    }
    print(json.dumps(ready), flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    # Streaming threads of live pipelines may still run; the kernel releases the socket
    # and the pipelines at once, which keeps shutdown prompt.
    os._exit(code)
