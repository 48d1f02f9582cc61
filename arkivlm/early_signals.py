"""A requeue signal that arrives before training can checkpoint.

Slurm sends SIGUSR1 (`--signal=SIGUSR1@90`) at a moment of its choosing: to a requeued job it can
come within the first second, while Python is still importing torch and Lightning has no handler
yet; the default action then kills the step and the job ends FAILED instead of requeued. So
`python -m arkivlm` records the signal from its first line (`install`), and the pretrain Trainer's
`ReplayEarlySignals` callback hands the handler back just before Lightning installs its own, then
sends the recorded signal again once training has started, when Lightning can checkpoint and requeue.
"""

from __future__ import annotations

import os
import signal

_pending: list[int] = []


def _record(signum, frame) -> None:
    _pending.append(signum)


def install() -> None:
    if hasattr(signal, "SIGUSR1") and signal.getsignal(signal.SIGUSR1) in (signal.SIG_DFL, None):
        signal.signal(signal.SIGUSR1, _record)


def pending() -> list[int]:
    return list(_pending)


def replay_callback():
    import lightning as L

    class ReplayEarlySignals(L.Callback):
        def setup(self, trainer, pl_module, stage):
            # Lightning installs its requeue handler only where no handler is set
            if hasattr(signal, "SIGUSR1") and signal.getsignal(signal.SIGUSR1) is _record:
                signal.signal(signal.SIGUSR1, signal.SIG_DFL)

        def on_train_start(self, trainer, pl_module):
            if _pending:
                _pending.clear()
                os.kill(os.getpid(), signal.SIGUSR1)

    return ReplayEarlySignals()
