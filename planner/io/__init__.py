"""Files in and out: GIS import (``ingest``) and the export writers (``export``)."""
