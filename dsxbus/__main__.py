import sys

from dsxbus.cli import main

sys.exit(main())
