from slipway_demo.server import main

raise SystemExit(main())
