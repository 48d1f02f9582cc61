from arkivlm import early_signals

early_signals.install()  # before the heavy imports: a requeue signal must never kill a starting job

from arkivlm.cli import main  # noqa: E402

main()
