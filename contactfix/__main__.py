from contactfix.cli import main

main()
