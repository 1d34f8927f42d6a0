from regctl.main import main

main()
