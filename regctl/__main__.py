from regctl.cli.main import main

main()
