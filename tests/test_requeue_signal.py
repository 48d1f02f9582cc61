"""Slurm's requeue signal (SIGUSR1) is recorded from `python -m arkivlm`'s first line and never
kills the process; what training does with it is tested in test_models and, against a real
Slurm, in test_slurm."""

import signal
import subprocess
import sys

from tests.conftest import REPO


def test_signal_at_any_moment_is_recorded_not_fatal():
    code = ("import os, signal, time\nfrom arkivlm import requeue_signal\nrequeue_signal.install()\n"
            "os.kill(os.getpid(), signal.SIGUSR1)\ntime.sleep(0.1)\nimport torch, lightning\n"
            "os.kill(os.getpid(), signal.SIGUSR1)\ntime.sleep(0.1)\nprint(requeue_signal.received())")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str([int(signal.SIGUSR1)] * 2)


def test_next_hpc_checkpoint_follows_the_highest(tmp_path):
    from arkivlm.requeue_signal import next_hpc_checkpoint

    assert next_hpc_checkpoint(tmp_path).name == "hpc_ckpt_1.ckpt"
    for n in (1, 2, 10):
        (tmp_path / f"hpc_ckpt_{n}.ckpt").write_bytes(b"x")
    assert next_hpc_checkpoint(tmp_path).name == "hpc_ckpt_11.ckpt"


def test_python_m_arkivlm_survives_the_signal_from_its_first_line_through_interpreter_exit():
    """SIGUSR1 as fast as it can be sent from the moment the handler is in place (SigCgt in /proc) until
    the process is gone: through the imports, the command, and Python's finalization, which puts
    the default action back for caught signals (a CI run once died so after `pretrain: done`)."""
    import os
    import time
    from pathlib import Path

    # torch imported first, as a pretrain run has it: its teardown makes finalization long enough to be hit
    code = "import sys, runpy, torch; sys.argv = ['arkivlm', '--help']; runpy.run_module('arkivlm', run_name='__main__')"
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    usr1 = 1 << (int(signal.SIGUSR1) - 1)
    status = Path(f"/proc/{proc.pid}/status")
    while proc.poll() is None:  # until the handler is in place
        fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
        if int(fields["SigCgt"], 16) & usr1:
            break
        time.sleep(0.001)
    sent = 0
    while proc.poll() is None:
        os.kill(proc.pid, signal.SIGUSR1)
        sent += 1
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, (proc.returncode, err[-2000:])
    assert sent > 10 and "usage" in out.lower()
