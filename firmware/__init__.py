"""Gluon firmware SDK: C sources, headers and the `gluon cc` driver."""
