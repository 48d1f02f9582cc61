"""The archive's containers at the size the library stores them, through ingest on the stress test's
cluster (a Spark standalone cluster started as arkivlm/slurm.py starts one, each executor's heap
capped at 1 GiB): one package of 100,000 members (1,000 newspaper issues, each a METS file and 99
ALTO pages, in one tar) and a 500 MB WARC (crawled pages among large images, as a crawl of news
sites is). Every member and record must be accounted for, and no executor lost.

The figures (wall, peak memory per process kind) are written to test-artifacts/stress_containers.json.
"""

import io
import json
import os
import subprocess
import sys
import tarfile
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

from arkivlm.sample.packaging import mets
from tests.conftest import ARTIFACTS
from tests.test_stress_cluster import PeakMemory, free_port, vocabulary

ISSUES, PAGES_PER_ISSUE = 1_000, 99
MEMBERS = ISSUES * (1 + PAGES_PER_ISSUE)
WARC_BYTES = 500 * 2**20
HTML_PAGES, IMAGE_BYTES = 2_000, 2 * 2**20


def alto_page(words: list[str], page: int) -> bytes:
    lines = [" ".join(words[i:i + 8]) for i in range(0, len(words), 8)]
    body = "".join("<TextLine>" + "<SP/>".join(f'<String CONTENT="{w}" WC="0.9"/>' for w in line.split()) + "</TextLine>"
                   for line in lines)
    return (f'<?xml version="1.0"?><alto xmlns="http://www.loc.gov/standards/alto/ns-v4#"><Layout><Page PHYSICAL_IMG_NR="{page}">'
            f"<PrintSpace><TextBlock>{body}</TextBlock></PrintSpace></Page></Layout></alto>").encode()


def build_package(path: Path, rng, words, p) -> None:
    with tarfile.open(path, "w") as tf:
        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 1577836800
            tf.addfile(info, io.BytesIO(data))

        for i in range(ISSUES):
            issue = f"bib4345612_{19000101 + i:08d}"
            pages = [f"{issue}_{k:04d}_alto.xml" for k in range(1, PAGES_PER_ISSUE + 1)]
            add(f"{issue}/{issue}_mets.xml", mets(f"{1900 + i // 100}-{1 + i % 12:02d}-{1 + i % 28:02d}", pages))
            chosen = words[rng.choice(len(words), size=PAGES_PER_ISSUE * 24, p=p)]
            for k, name in enumerate(pages):
                add(f"{issue}/{name}", alto_page(list(chosen[k * 24:(k + 1) * 24]), k + 1))


def gzip_member(data: bytes) -> bytes:
    z = zlib.compressobj(1, zlib.DEFLATED, 31)  # a gzip member per record, as crawlers write them
    return z.compress(data) + z.flush()


def warc_record(kind: str, url: str, http: bytes, payload: bytes) -> bytes:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=False)
    headers = StatusAndHeaders("200 OK", [("Content-Type", http.decode())], protocol="HTTP/1.1") if http else None
    writer.write_record(writer.create_warc_record(url, kind, payload=io.BytesIO(payload), http_headers=headers,
                                                  warc_headers_dict={"WARC-Date": "2019-05-04T03:02:01Z"}))
    return gzip_member(buf.getvalue())


def build_warc(path: Path, rng, words, p) -> dict:
    counts = {"html": 0, "images": 0, "requests": 0}
    images = WARC_BYTES // IMAGE_BYTES
    every = HTML_PAGES // images
    with open(path, "wb") as fh:
        for i in range(HTML_PAGES):
            url = f"https://www.nyheter.se/{i:05d}"
            paras = [" ".join(words[rng.choice(len(words), size=60, p=p)]).capitalize() + "." for _ in range(4)]
            page = ("<!DOCTYPE html><html lang=\"sv\"><head><meta charset=\"utf-8\"><title>Nyhet</title></head><body>"
                    "<main><article>" + "".join(f"<p>{t}</p>" for t in paras) + "</article></main></body></html>").encode()
            fh.write(warc_record("request", url, b"", f"GET {url} HTTP/1.1\r\n\r\n".encode()))
            fh.write(warc_record("response", url, b"text/html; charset=utf-8", page))
            counts["requests"] += 1
            counts["html"] += 1
            if i % every == 0 and counts["images"] < images:
                fh.write(warc_record("response", f"{url}/bild.jpg", b"image/jpeg", rng.bytes(IMAGE_BYTES)))
                counts["images"] += 1
    counts["bytes"] = path.stat().st_size
    return counts


@pytest.mark.slow
def test_a_100000_member_package_and_a_500_mb_warc_through_ingest_on_1_gib_executors(tmp_path):
    from arkivlm import slurm
    from arkivlm.spark import executor_sizing

    rng = np.random.default_rng(42)
    words, p = vocabulary()
    archive = tmp_path / "archive"
    (archive / "paket").mkdir(parents=True)
    (archive / "webb").mkdir()
    t0 = time.perf_counter()
    build_package(archive / "paket" / "bib4345612_1900-1909.tar", rng, words, p)
    warc = build_warc(archive / "webb" / "kulturarw3_2019.warc.gz", rng, words, p)
    t_build = time.perf_counter() - t0
    assert warc["bytes"] >= WARC_BYTES

    settings = {"master": "slurm", "worker_memory": "4g", "executor_cores": 1, "executor_memory": "1g",
                "driver_memory": "2g", "shuffle_partitions": 8, "local_dir": str(tmp_path / "scratch")}
    sizing = executor_sizing(1, 4096, settings)
    assert sizing["conf"]["spark.executor.memory"] == "1024m"
    port, ui_port = free_port(), free_port()
    url = f"spark://127.0.0.1:{port}"
    env = slurm.cluster_env(settings, sizing, url)
    env.update(SPARK_WORKER_DIR=str(tmp_path / "work"), SPARK_LOCAL_IP="127.0.0.1",
               ARKIVLM_SPARK_SETTINGS=json.dumps(settings), PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    logs = tmp_path / "logs"
    logs.mkdir()
    procs = [subprocess.Popen(slurm.master_command("127.0.0.1", port, ui_port), env=env, start_new_session=True,
                              stdout=open(logs / "master.log", "w"), stderr=subprocess.STDOUT)]
    for i in range(2):
        procs.append(subprocess.Popen(slurm.worker_command(url, 1, sizing["worker_memory_mb"], free_port()), env=env,
                                      start_new_session=True, stdout=open(logs / f"worker{i}.log", "w"), stderr=subprocess.STDOUT))
    memory = PeakMemory()
    res = tmp_path / "results"
    sources = [
        {"name": "paket", "modality": "text", "format": "alto", "path": "archive/paket/*.tar", "package_members": "**/*.xml",
         "rights": "public"},
        {"name": "webb", "modality": "text", "format": "warc", "path": "archive/webb/*.warc.gz", "rights": "public"},
    ]
    try:
        slurm.wait_for_workers(ui_port, 2)
        memory.thread.start()
        cmd = [sys.executable, "-m", "arkivlm", "ingest", "--sources", json.dumps(sources), "--docs", f"{res}/interim/ingest",
               "--quarantine", f"{res}/quarantine", "--stats", f"{res}/stats/ingest.json"]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1200)
        wall = time.perf_counter() - t0
        (logs / "ingest.log").write_text(proc.stdout + proc.stderr)
        assert proc.returncode == 0, proc.stderr[-5000:]
    finally:
        memory.stop.set()
        slurm.stop(procs)

    (app,) = sorted((tmp_path / "work").glob("app-*"))
    lost = len([d for d in app.iterdir() if d.is_dir()]) - 2
    oom = sum(p.read_text(errors="replace").count("OutOfMemoryError") for p in app.glob("*/stderr"))
    st = json.loads((res / "stats" / "ingest.json").read_text())
    paket, webb = st["per_source"]["paket"], st["per_source"]["webb"]
    figures = {"archive_build_s": round(t_build, 1), "ingest_wall_s": round(wall, 1),
               "peak_rss_mb": {k: round(v / 2**20) for k, v in sorted(memory.peak.items())},
               "package_members": MEMBERS, "warc_bytes": warc["bytes"], "warc_records": 2 * HTML_PAGES + warc["images"],
               "per_source": {"paket": paket, "webb": webb}, "executors_lost": lost, "executor_oom_lines": oom,
               "executor": sizing["conf"]}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "stress_containers.json").write_text(json.dumps(figures, indent=1))
    print(json.dumps(figures, indent=1))

    # every member of the package is a file of ingest's accounting; METS files are counted, not documents
    assert paket["packages"] == 1 and paket["files_in"] == MEMBERS == paket["files_ok"]
    assert paket["docs"] == ISSUES * PAGES_PER_ISSUE and paket["records_skipped"] == {"mets": ISSUES}
    # every WARC record accounted for: pages read, requests and images counted
    assert webb["files_in"] == 1 == webb["files_ok"] and webb["records_quarantined"] == 0
    assert webb["docs"] == HTML_PAGES
    assert webb["records_skipped"] == {"warc:non_html": warc["images"], "warc:request": warc["requests"]}
    # pages dated by the METS beside them in the package, web pages by WARC-Date
    assert st["per_decade"]["1900s"]["docs"] == ISSUES * PAGES_PER_ISSUE and st["per_decade"]["2010s"]["docs"] == HTML_PAGES
    assert not lost and not oom, f"executors lost: {lost}; OutOfMemoryError lines: {oom}"
