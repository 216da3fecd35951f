"""A small Django project for the integration tests (in-process and under real servers)."""
