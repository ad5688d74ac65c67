from flaskfix import main

main()
