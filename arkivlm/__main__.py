from arkivlm import requeue_signal

requeue_signal.install()  # before the heavy imports: a requeue signal must never kill the job, at any moment

from arkivlm.cli import main  # noqa: E402

try:
    main()
finally:
    requeue_signal.ignore()  # Python's finalization resets handlers to the default (fatal) action, not an ignored signal
