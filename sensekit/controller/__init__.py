"""The sampling controller: policies, dual-mode camera switching, energy budget."""
