"""Processing many recordings on a distributed engine (Dask)."""
