from flaskfix.cli.main import main

main()
