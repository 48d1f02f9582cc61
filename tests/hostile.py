"""Hostile archive files: what centuries of digitisation and a shared file system leave behind."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests import formats as F

SWEDISH = ("Kommunen meddelade i dag att den nya bron över älven blir klar nästa år. Många invånare är nöjda "
           "med beslutet, men några oroar sig för trafiken under byggtiden och för kostnaderna. ") * 3

# name -> (expected: "read" | "quarantined", reason fragment)
EXPECTED: dict[str, tuple[str, str]] = {}


def put(root: Path, source: str, name: str, data: bytes | str, expected: str, reason: str = "") -> None:
    path = root / source / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    EXPECTED[f"{source}/{name}"] = (expected, reason)


def write(root: Path, outside: Path) -> dict:
    EXPECTED.clear()
    put(root, "alto", "truncated.xml", F.ALTO_HYPHENATED[:400], "quarantined", "malformed XML")
    put(root, "alto", "binary.xml", bytes(range(256)) * 20, "quarantined", "malformed XML")
    put(root, "alto", "bomb.xml", F.ALTO_ENTITY_BOMB, "quarantined", "entit")
    put(root, "alto", "external_entity.xml", F.ALTO_EXTERNAL_ENTITY, "quarantined", "entit")
    put(root, "alto", "empty.xml", b"", "quarantined", "empty")
    put(root, "alto", "good page.xml", F.ALTO_HYPHENATED, "read")
    put(root, "txt", "cp1252.txt", SWEDISH.encode("cp1252"), "read")
    put(root, "txt", "latin1.txt", SWEDISH.encode("latin-1"), "read")
    put(root, "txt", "utf16_bom.txt", SWEDISH.encode("utf-16"), "read")
    put(root, "txt", "nul_bytes.txt", SWEDISH.encode() + b"\x00\x00" + SWEDISH.encode(), "quarantined", "NUL")
    put(root, "txt", "empty.txt", b"", "quarantined", "empty")
    put(root, "txt", "one_line_30mb.txt", (SWEDISH.replace("\n", " ") * (30_000_000 // len(SWEDISH) + 1)).encode()[:30_000_000], "read")
    put(root, "txt", "name with spaces 'quotes' \"dq\"; rm -rf x; $(touch PWNED) `touch PWNED2`.txt", SWEDISH, "read")
    (root / "txt" / "directory.txt").mkdir()
    EXPECTED["txt/directory.txt"] = ("quarantined", "not a regular file")
    os.symlink(root / "txt", root / "txt" / "loop")  # a symlink loop: not followed
    os.symlink(root / "txt" / "loop.txt", root / "txt" / "loop.txt")  # a self-referencing symlink
    EXPECTED["txt/loop.txt"] = ("quarantined", "cannot stat")
    (outside / "secret.txt").write_text("hemlig " * 100)
    os.symlink(outside / "secret.txt", root / "txt" / "escape.txt")
    EXPECTED["txt/escape.txt"] = ("quarantined", "outside the source directory")
    put(root, "srt", "broken_timestamps.srt", "1\n00:00:01,000 --> 00:00:0X,500\nHej\n", "quarantined", "SRT")
    put(root, "srt", "reversed.srt", "1\n00:00:05,000 --> 00:00:01,000\nBaklänges tid.\n\n2\n00:00:06,000 --> 00:00:07,000\nSen.\n", "read")
    put(root, "srt", "no_index.srt", "00:00:01,000 --> 00:00:02,000\nUtan nummer.\n\n00:00:03,000 --> 00:00:04,000\nFortfarande.\n", "read")
    put(root, "vtt", "no_header.vtt", "00:00:01.000 --> 00:00:02.000\nHej\n", "quarantined", "WebVTT")
    put(root, "vtt", "ok.vtt", F.VTT_STYLED, "read")
    put(root, "whisper", "wrong_schema.json", json.dumps({"segments": [{"start": "a", "text": 5}]}), "quarantined", "Whisper JSON")
    put(root, "whisper", "truncated.json", F.WHISPER[:60], "quarantined", "invalid JSON")
    put(root, "whisper", "deep.json", "[" * 100_000 + "]" * 100_000, "quarantined", "JSON")
    put(root, "whisper", "ok.json", F.WHISPER, "read")
    return dict(EXPECTED)


def sources(root: Path) -> list[dict]:
    return [{"name": "alto", "modality": "text", "format": "alto", "path": str(root / "alto" / "*.xml"), "rights": "public"},
            {"name": "txt", "modality": "text", "format": "txt", "path": str(root / "txt" / "**" / "*.txt"), "rights": "public"},
            {"name": "srt", "modality": "subtitle", "format": "srt", "path": str(root / "srt" / "*.srt"), "rights": "public"},
            {"name": "vtt", "modality": "subtitle", "format": "vtt", "path": str(root / "vtt" / "*.vtt"), "rights": "public"},
            {"name": "whisper", "modality": "transcript", "format": "whisper_json", "path": str(root / "whisper" / "*.json"),
             "rights": "public"}]
