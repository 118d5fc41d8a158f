from sentineld.cli import main

raise SystemExit(main())
