import sys

try:
    from .cli import main
except KeyboardInterrupt:  # Ctrl-C while the libraries load: nothing has started yet
    sys.exit(130)

sys.exit(main())
