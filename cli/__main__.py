from warpsmith.cli.main import main

main()
