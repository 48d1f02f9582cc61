"""Compressed files, told by their extension: `.gz`, `.bz2`, `.xz`, `.zst` around any text format.

The bytes are decompressed in memory, never to disk, and never beyond a bound: a file (or a package
member) that decompresses to more than `max_bytes` is refused, so a small decompression bomb cannot
fill a Python worker.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import zlib

from arkivlm.readers.base import ReadError

COMPRESSIONS = (".gz", ".bz2", ".xz", ".zst")


def compression_of(name: str) -> str | None:
    """The compression suffix of a file name (`.gz`, ...), or None."""
    lower = name.lower()
    return next((c for c in COMPRESSIONS if lower.endswith(c)), None)


def _reader(data: bytes, suffix: str):
    raw = io.BytesIO(data)
    if suffix == ".gz":
        return gzip.GzipFile(fileobj=raw)
    if suffix == ".bz2":
        return bz2.BZ2File(raw)
    if suffix == ".xz":
        return lzma.LZMAFile(raw)
    import zstandard

    return zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)


def _check_zstd_frames(data: bytes) -> None:
    """zstandard's stream reader ends quietly where a frame is cut short: every frame must end. Its
    output was bounded just before, so decompressing once more is bounded too."""
    import zstandard

    while data:
        frame = zstandard.ZstdDecompressor().decompressobj()
        frame.decompress(data)
        if not frame.eof:
            raise EOFError("the data ends inside a frame")
        data = frame.unused_data


def decompress(data: bytes, name: str, max_bytes: int) -> bytes:
    """`data` decompressed as its name's suffix says (as it is without one); at most `max_bytes`."""
    suffix = compression_of(name)
    if suffix is None:
        return data
    chunks, size = [], 0
    try:
        with _reader(data, suffix) as fh:
            while chunk := fh.read(min(1 << 20, max_bytes + 1 - size)):
                chunks.append(chunk)
                size += len(chunk)
                if size > max_bytes:
                    raise ReadError(f"decompresses to more than {max_bytes} bytes")
        if suffix == ".zst":
            _check_zstd_frames(data)
    except ReadError:
        raise
    except (OSError, EOFError, lzma.LZMAError, zlib.error, ValueError) as e:
        raise ReadError(f"broken {suffix[1:]} data: {type(e).__name__}: {str(e)[:160]}") from None
    except Exception as e:  # zstandard.ZstdError has no common base with the others
        if type(e).__name__ != "ZstdError":
            raise
        raise ReadError(f"broken zst data: {str(e)[:160]}") from None
    return b"".join(chunks)
