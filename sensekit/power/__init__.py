"""Power: per-device power models (package data), meters, the energy ledger and the harness."""
