"""Gluon simulation and the `gluon` command-line tool."""
