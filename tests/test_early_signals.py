"""A requeue signal (SIGUSR1) in the first second of a job: recorded by `python -m arkivlm` before
its imports, handed to Lightning's handler once training has started (issue 15, item 8)."""

import signal
import subprocess
import sys

from tests.conftest import REPO


def test_signal_before_any_handler_is_recorded_not_fatal():
    code = ("import os, signal\nfrom arkivlm import early_signals\nearly_signals.install()\n"
            "os.kill(os.getpid(), signal.SIGUSR1)\nimport time; time.sleep(0.1)\nprint(early_signals.pending())")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"[{int(signal.SIGUSR1)}]"


def test_recorded_signal_is_replayed_to_the_handler_lightning_installs():
    code = """
import os, signal, time
from arkivlm import early_signals
early_signals.install()
os.kill(os.getpid(), signal.SIGUSR1)
time.sleep(0.1)
cb = early_signals.replay_callback()
cb.setup(None, None, "fit")
assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL  # so that Lightning installs its own
seen = []
signal.signal(signal.SIGUSR1, lambda s, f: seen.append(s))  # Lightning's requeue handler
cb.on_train_start(None, None)
time.sleep(0.1)
print(seen, early_signals.pending())
"""
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"[{int(signal.SIGUSR1)}] []"
