"""The multi-modal, multi-resolution fusion network (needs the fusion extra: torch)."""
