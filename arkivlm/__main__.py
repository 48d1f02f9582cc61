from arkivlm.cli import main

main()
