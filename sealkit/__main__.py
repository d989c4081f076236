from sealkit.cli.main import main

main()
