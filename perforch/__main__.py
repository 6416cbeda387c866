from perforch.cli.app import main

main()
