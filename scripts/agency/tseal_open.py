#!/usr/bin/python3
"""Opens a TSEAL1 sealed file with libsodium (through PyNaCl), independently of the agent.

Usage: tseal_open.py BOX_SECRET_KEY_B64_FILE IN OUT

Written from the format as DESIGN.md states it ("Seal (format TSEAL1)"):

    header  = "TSEAL1\\n" || u32be(65536) || e.public (32) || wrapped (48) || prefix (16)
              || u16be(n) || context (n <= 1024 bytes of UTF-8 JSON)
    H(x)    = first 32 bytes of SHA-512(x)
    s       = X25519(recipient secret, e.public), refused when all zero
    wrapKey = H("threshold/seal/v1/wrap" || s || e.public || R)
    fileKey = secretbox_open(wrapped, 24 zero bytes, wrapKey)
    payloadKey = H("threshold/seal/v1/payload" || fileKey || SHA-512(header))
    chunk i = secretbox(plaintext chunk, prefix || 00 00 00 || u32be(i) || last, payloadKey)

The chunk count comes from the file length; the last flag must be set on the final chunk
and on no other. The plaintext goes to a temporary file beside OUT, renamed to OUT only
when every chunk has been authenticated: on any failure the exit status is 1, a one-line
reason goes to stderr, and OUT is not created.
"""

import base64
import binascii
import json
import os
import struct
import sys
import tempfile

from nacl import bindings
from nacl.exceptions import CryptoError

MAGIC = b"TSEAL1\n"
CHUNK = 65536
TAG = 16  # Poly1305 tag bytes per secretbox
SEALED_CHUNK = CHUNK + TAG
MAX_CONTEXT = 1024
FIXED = len(MAGIC) + 4 + 32 + 48 + 16 + 2


class Refused(Exception):
    """The file is not a valid TSEAL1 file for this key."""


def h32(data):
    return bindings.crypto_hash_sha512(data)[:32]


def read_exact(stream, count):
    data = stream.read(count)
    if len(data) != count:
        raise Refused("file ends early")
    return data


def read_secret_key(path):
    with open(path, "rb") as handle:
        text = handle.read().strip()
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as err:
        raise Refused("secret key file is not base64") from err
    if len(key) != 32:
        raise Refused("secret key is not 32 bytes")
    return key


def parse_header(stream):
    fixed = read_exact(stream, FIXED)
    if fixed[: len(MAGIC)] != MAGIC:
        raise Refused("not a TSEAL1 file")
    (chunk_size,) = struct.unpack(">I", fixed[7:11])
    if chunk_size != CHUNK:
        raise Refused("unsupported chunk size %d" % chunk_size)
    ephemeral = fixed[11:43]
    wrapped = fixed[43:91]
    prefix = fixed[91:107]
    (context_len,) = struct.unpack(">H", fixed[107:109])
    if context_len > MAX_CONTEXT:
        raise Refused("context too long")
    context = read_exact(stream, context_len)
    return fixed + context, ephemeral, wrapped, prefix, context


def payload_key(secret, header, ephemeral, wrapped):
    recipient = bindings.crypto_scalarmult_base(secret)
    try:
        shared = bindings.crypto_scalarmult(secret, ephemeral)
    except RuntimeError as err:  # libsodium refuses an all-zero result
        raise Refused("low-order ephemeral key") from err
    if shared == bytes(32):
        raise Refused("low-order ephemeral key")
    wrap_key = h32(b"threshold/seal/v1/wrap" + shared + ephemeral + recipient)
    try:
        file_key = bindings.crypto_secretbox_open(wrapped, bytes(24), wrap_key)
    except CryptoError as err:
        raise Refused("not sealed to this key, or header altered") from err
    return h32(b"threshold/seal/v1/payload" + file_key + bindings.crypto_hash_sha512(header))


def chunk_count(body):
    """Number of chunks and sealed size of the final one, from the body length."""
    if body < TAG:
        raise Refused("no chunk")
    count = (body + SEALED_CHUNK - 1) // SEALED_CHUNK
    last = body - (count - 1) * SEALED_CHUNK
    if last < TAG or (last == TAG and count > 1):
        raise Refused("length is not a whole number of chunks")
    return count, last


def open_sealed(secret, source, sink, size):
    header, ephemeral, wrapped, prefix, context = parse_header(source)
    try:
        json.loads(context.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise Refused("context is not UTF-8 JSON") from err
    key = payload_key(secret, header, ephemeral, wrapped)
    count, last_size = chunk_count(size - len(header))
    for index in range(count):
        final = index == count - 1
        box = read_exact(source, last_size if final else SEALED_CHUNK)
        nonce = prefix + b"\x00\x00\x00" + struct.pack(">I", index) + (b"\x01" if final else b"\x00")
        try:
            sink.write(bindings.crypto_secretbox_open(box, nonce, key))
        except CryptoError as err:
            raise Refused("chunk %d failed authentication" % index) from err
    if source.read(1):
        raise Refused("file grew while being read")


def main(argv):
    if len(argv) != 4:
        sys.stderr.write("usage: tseal_open.py BOX_SECRET_KEY_B64_FILE IN OUT\n")
        return 2
    key_path, in_path, out_path = argv[1:]
    out_dir = os.path.dirname(os.path.abspath(out_path))
    temp = None
    try:
        secret = read_secret_key(key_path)
        with open(in_path, "rb") as source:
            size = os.fstat(source.fileno()).st_size
            fd, temp = tempfile.mkstemp(prefix=".tseal-open-", suffix=".part", dir=out_dir)
            with os.fdopen(fd, "wb") as sink:
                open_sealed(secret, source, sink, size)
                sink.flush()
                os.fsync(sink.fileno())
        os.replace(temp, out_path)
        temp = None
        dir_fd = os.open(out_dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return 0
    except (Refused, OSError) as err:
        sys.stderr.write("tseal_open: %s\n" % err)
        return 1
    finally:
        if temp is not None:
            os.unlink(temp)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
