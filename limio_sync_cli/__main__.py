import sys

from limio_sync_cli.main import main

sys.exit(main())
