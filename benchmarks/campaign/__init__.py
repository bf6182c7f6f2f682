"""The fault campaign's pieces: the forking harness and one module per target."""
