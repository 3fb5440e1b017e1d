import sys

from cnnexplorer.cli import main

sys.exit(main())
