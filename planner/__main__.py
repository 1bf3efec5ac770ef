"""``python -m planner``: the command line (see ``planner.cli.main``).

The process imports its modules with the cyclic garbage collector paused, then freezes what they
made (``gc.freeze``): modules, classes and functions live as long as the process, so the
collections of the run no longer walk the ~100,000 objects of numpy, pandas, geopandas and pyproj
each time (about a fifth of a second of a ``check --json`` at 100,000 parcels). Reference counting
frees everything as before; the collector runs as usual over what the command itself makes.
"""

import gc
import sys

if __name__ == "__main__":
    gc.disable()
    from planner.cli.main import main

    gc.freeze()
    gc.enable()
    sys.exit(main())
