import sys

from mailspec.cli import main

sys.exit(main())
