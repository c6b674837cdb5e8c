"""Recording and replay: MCAP recorder and reader, replay source, importers, exporters."""
