"""Slurm's warning before a job's time limit: checkpoint, requeue, stop.

The MeluXina profile submits training with `--signal=SIGUSR1@90`: 90 s before the time limit
Slurm sends SIGUSR1 to every task, at a moment of its choosing. `python -m arkivlm` installs
`_record` on its first line, before the heavy imports, and it stays the handler for the whole
process: it only records the signal. So there is no moment (importing torch, restoring a
checkpoint, exporting after training) where the signal's default action kills the step and the
job ends FAILED instead of requeued; at the very end `ignore` covers interpreter finalization.

Lightning's own requeue handler is therefore off (`SLURMEnvironment(auto_requeue=False)`). The
`RequeueOnSignal` callback looks at the record after every optimizer step, the ranks agreeing
on it, so the checkpoint is written at a step boundary where no rank is inside a collective:
it writes hpc_ckpt_N.ckpt (where `pretrain.resume_from` finds it), asks Slurm to requeue the job
and ends training by raising `Requeued`. Outside a Slurm job, or where the requeue fails, the
signal writes the checkpoint and training goes on.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

_received: list[int] = []


class Requeued(Exception):
    """Training stopped after a checkpoint because Slurm requeued the job."""


def _record(signum, frame) -> None:
    _received.append(signum)


def install() -> None:
    if hasattr(signal, "SIGUSR1") and signal.getsignal(signal.SIGUSR1) in (signal.SIG_DFL, None):
        signal.signal(signal.SIGUSR1, _record)


def ignore() -> None:
    """For the end of the process: the stage is over, and interpreter finalization would put
    the default action back in place of `_record` (but leaves an ignored signal ignored)."""
    if hasattr(signal, "SIGUSR1"):
        signal.signal(signal.SIGUSR1, signal.SIG_IGN)


def received() -> list[int]:
    return list(_received)


def slurm_job_id() -> str | None:
    if os.environ.get("SLURM_ARRAY_JOB_ID") and os.environ.get("SLURM_ARRAY_TASK_ID"):
        return f"{os.environ['SLURM_ARRAY_JOB_ID']}_{os.environ['SLURM_ARRAY_TASK_ID']}"
    return os.environ.get("SLURM_JOB_ID")


def next_hpc_checkpoint(ckpt_dir: Path) -> Path:
    """hpc_ckpt_N.ckpt with N one past the highest there, the name Lightning gives them."""
    numbers = [int(m.group(1)) for p in ckpt_dir.glob("hpc_ckpt_*.ckpt") if (m := re.fullmatch(r"hpc_ckpt_(\d+)\.ckpt", p.name))]
    return ckpt_dir / f"hpc_ckpt_{max(numbers, default=0) + 1}.ckpt"


def requeue(job: str) -> bool:
    try:
        return subprocess.call(["scontrol", "requeue", job]) == 0
    except OSError as e:
        print(f"pretrain: scontrol requeue {job}: {e}", file=sys.stderr)
        return False


def callback():
    import lightning as L

    class RequeueOnSignal(L.Callback):
        def on_train_batch_end(self, trainer, *args):
            if trainer.fit_loop._should_accumulate():
                return
            if not trainer.strategy.reduce_boolean_decision(bool(_received), all=False):
                return
            _received.clear()
            path = next_hpc_checkpoint(Path(trainer.default_root_dir))
            trainer.save_checkpoint(str(path))
            job = slurm_job_id()
            where = f"step {trainer.global_step}: {path.name} written"
            if job and trainer.is_global_zero:
                # before the requeue: Slurm ends the running job once it is requeued, and a line
                # printed after `scontrol requeue` returns may never reach the job's log
                print(f"pretrain: {where}; requeueing Slurm job {job}", file=sys.stderr, flush=True)
            done = requeue(job) if job and trainer.is_global_zero else False
            done = trainer.strategy.broadcast(done, src=0)
            if done:
                raise Requeued(f"Slurm job {job} requeued at step {trainer.global_step}; it resumes from {path.name}")
            print(f"pretrain: requeue signal at {where}" + (f"; requeueing job {job} failed, training goes on" if job else ""),
                  file=sys.stderr)

    return RequeueOnSignal()
