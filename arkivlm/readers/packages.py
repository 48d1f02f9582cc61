"""Packages: `.tar`, `.tar.gz`/`.tgz` and `.zip` files of archive files (one newspaper issue's METS
and ALTO pages, one volume of a book), read in place: nothing is unpacked to disk, so a run over
millions of pages does not put millions of small files on Lustre.

`list_package` reads a package's table of contents once (a `.tar.gz` is decompressed once for
it); `PackageFile` then reads members by their offsets, in order, so a task that reads a chunk of
a package's members never goes back. METS files (`*mets*.xml`) among the members are read while
listing, for the dates of the ALTO pages beside them (the same directory of the package).
"""

from __future__ import annotations

import gzip
import os
import re
import tarfile
import zipfile
import zlib
from dataclasses import dataclass

from arkivlm.readers.base import ReadError

PACKAGE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".zip")
MEMBER_SEPARATOR = "!"
_METS = re.compile(r"[^/]*mets[^/]*\.xml", re.IGNORECASE)
_MAX_METS_BYTES = 64 << 20


def is_package(path: str) -> bool:
    return path.lower().endswith(PACKAGE_SUFFIXES)


def is_member_path(path: str) -> bool:
    """Whether `path` names a member inside a package (`issue.tar!issue/page.xml`)."""
    outer, sep, _ = path.partition(MEMBER_SEPARATOR)
    return bool(sep) and is_package(outer)


def _kind(path: str) -> str:
    lower = path.lower()
    return "zip" if lower.endswith(".zip") else "tar" if lower.endswith(".tar") else "tgz"


@dataclass(frozen=True)
class Member:
    name: str    # the path inside the package
    offset: int  # where its bytes start (tar: in the uncompressed stream; zip: its local header)
    size: int    # uncompressed bytes


def list_package(path: str, member_regex: re.Pattern) -> tuple[list[Member], dict[str, str]]:
    """(the regular-file members whose names `member_regex` matches, in offset order;
    {directory inside the package: the date its METS file gives}). A package that cannot be read
    to its end raises ReadError: it is quarantined whole."""
    from arkivlm.readers.alto import mets_date_of

    members, mets = [], {}
    try:
        if _kind(path) == "zip":
            with zipfile.ZipFile(path) as zf:
                for info in zf.infolist():
                    if info.is_dir() or not member_regex.fullmatch(info.filename):
                        continue
                    members.append(Member(info.filename, info.header_offset, info.file_size))
                    if _METS.fullmatch(os.path.basename(info.filename)) and info.file_size <= _MAX_METS_BYTES:
                        try:
                            mets.setdefault(os.path.dirname(info.filename), mets_date_of(zf.read(info)))
                        except (zipfile.BadZipFile, zlib.error, OSError, EOFError):
                            pass  # the member itself is quarantined when it is read
        else:
            with tarfile.open(path, mode="r:*") as tf:
                for info in tf:
                    if not info.isreg() or not member_regex.fullmatch(info.name):
                        continue
                    members.append(Member(info.name, info.offset_data, info.size))
                    if _METS.fullmatch(os.path.basename(info.name)) and info.size <= _MAX_METS_BYTES:
                        mets.setdefault(os.path.dirname(info.name), mets_date_of(tf.extractfile(info).read()))
                _check_tar_complete(tf, path)
    except (tarfile.TarError, zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as e:
        raise ReadError(f"corrupt package: {type(e).__name__}: {str(e)[:160]}") from None
    members.sort(key=lambda m: m.offset)
    return members, {d: date for d, date in mets.items() if date}


def _check_tar_complete(tf: tarfile.TarFile, path: str) -> None:
    """tarfile takes a package cut short at a member's header, or inside a member it skipped, for
    its end: the members after the cut would be lost without a word. A compressed package must
    reach the end of its stream; a plain one its end-of-archive block of zeros."""
    if type(tf.fileobj).__module__ in ("gzip", "bz2", "lzma") or isinstance(tf.fileobj, tarfile._Stream):
        while tf.fileobj.read(1 << 20):  # a compressed stream cut short raises EOFError here
            pass
        return
    with open(path, "rb") as fh:
        fh.seek(tf.offset)
        end = fh.read(512)
    if len(end) < 512 or end.strip(b"\0"):
        raise EOFError(f"no end-of-archive block at byte {tf.offset}: the package was cut short")


def chunks(members: list[Member], max_members: int, max_bytes: int) -> list[list[Member]]:
    """Consecutive runs of members, each at most `max_members` long and (but for a single large
    member) `max_bytes` in size: the units a package is split into across tasks."""
    out, run, size = [], [], 0
    for m in members:
        if run and (len(run) >= max_members or size + m.size > max_bytes):
            out.append(run)
            run, size = [], 0
        run.append(m)
        size += m.size
    if run:
        out.append(run)
    return out


class PackageFile:
    """Members of one package read by offset, opened once for a run of members."""

    def __init__(self, path: str):
        self.kind = _kind(path)
        if self.kind == "zip":
            self.zip = zipfile.ZipFile(path)
            # by offset, not name: a zip may hold two members of one name
            self.infos = {info.header_offset: info for info in self.zip.infolist()}
        else:
            self.fh = open(path, "rb") if self.kind == "tar" else gzip.open(path, "rb")

    def read(self, member: Member, max_bytes: int) -> bytes:
        if member.size > max_bytes:
            raise ReadError(f"member too large ({member.size} bytes > {max_bytes})")
        try:
            if self.kind == "zip":
                with self.zip.open(self.infos[member.offset]) as fh:  # bounded: the size a zip declares can lie
                    data = fh.read(max_bytes + 1)
                if len(data) > max_bytes:
                    raise ReadError(f"member too large (more than {max_bytes} bytes unpacked)")
                return data
            self.fh.seek(member.offset)
            data = self.fh.read(member.size)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, KeyError, ValueError) as e:
            raise ReadError(f"unreadable member: {type(e).__name__}: {str(e)[:160]}") from None
        if len(data) != member.size:
            raise ReadError(f"unreadable member: the package ends {member.size - len(data)} bytes into it")
        return data

    def close(self) -> None:
        (self.zip if self.kind == "zip" else self.fh).close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
